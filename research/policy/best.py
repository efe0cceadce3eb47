"""Final policy: LC2 ('knapsack learned credit') with the reported configuration. Run: python3 best.py"""
from lc2 import LC2
from pols import report, fmt, lruref
FINAL = dict(feat='ext_newlen', nfeat=14, A=128, Wdiv=16, period=4096, beta=1.0, alpha=50.0,
             warm=(0, 0, 0, 0), minbirth=10000, startfrac=0.25, suffix=True, lbguard=True)
def make(cap): return LC2(cap, **FINAL)
if __name__ == '__main__':
    print(fmt('LRU', lruref()))
    report('LC2-final', make)
