"""Prints every row of README.md's table (about 1 minute): python3 research/policy/table.py"""
from best import FINAL
from lc2 import LC2
from pols import Credit, report, fmt, lruref
from sim import belady, load, TRACES

if __name__ == '__main__':
    print(fmt('LRU', lruref()))
    report('credit a=0.25', lambda c: Credit(c, a=0.25))
    report('LC2, f level only', lambda c: LC2(c, **dict(FINAL, feat='none', nfeat=1)))
    report('LC2', lambda c: LC2(c, **FINAL))
    print(fmt('Belady', {n: [belady(load(n), c) for c in TRACES[n][1]] for n in TRACES}))
