import heapq, collections, random
from sim import run, load, TRACES, LRU, belady

class HeapPol:
    """evict min priority; priority set at access time. Lazy heap."""
    def __init__(self, cap):
        self.cap = cap; self.res = {}; self.heap = []; self.t = 0; self.rq = 0
        self.seen = collections.defaultdict(int)
    def begin(self, req, h):
        self.rq += 1; self.T0 = self.t; self.n = len(req); self.h = h
    def end(self, req): pass
    def prio(self, k, i, req, new): raise NotImplementedError
    def _set(self, k, i, req, new):
        p = self.prio(k, i, req, new)
        self.res[k] = p; heapq.heappush(self.heap, (p, k))
    def hit(self, k, i, req):
        self._set(k, i, req, False); self.seen[k] += 1; self.t += 1
    def insert(self, k, i, req):
        if len(self.res) >= self.cap:
            res = self.res; heap = self.heap
            while True:
                p, v = heapq.heappop(heap)
                if res.get(v) == p:
                    del res[v]; break
        self._set(k, i, req, True); self.seen[k] += 1; self.t += 1

class LRUreq(HeapPol):
    # request-level time, evict deeper first within same request
    def prio(self, k, i, req, new): return (self.rq, -i)

class Credit(HeapPol):
    def __init__(self, cap, a=0.25, tail=True, reqtime=False, fcap=2):
        super().__init__(cap); self.w = cap / a; self.tail = tail; self.reqtime = reqtime; self.fcap = fcap
    def prio(self, k, i, req, new):
        if self.tail and new and i == self.n - 1: return (-1e18, 0)
        f = min(self.seen[k], self.fcap)
        t = self.T0 if self.reqtime else self.t
        return (t + f * self.w, -i if self.reqtime else 0)

def table(mk, names=('conv','syn','arxiv'), label=''):
    out = {}
    for nm in names:
        reqs = load(nm)
        out[nm] = [run(reqs, mk(c)) for c in TRACES[nm][1]]
    return out

def fmt(label, out):
    s = label.ljust(28)
    for nm, v in out.items():
        s += ' | ' + nm + ' ' + ' '.join('%.4f' % x for x in v)
    return s

LRUREF = {}
def lruref():
    if not LRUREF:
        LRUREF.update(table(LRU))
    return LRUREF

def report(label, mk, names=('conv','syn','arxiv')):
    out = table(mk, names)
    ref = lruref()
    worst = min(v - ref[nm][j] for nm in out for j, v in enumerate(out[nm]))
    print(fmt(label, out), '| minΔLRU %+.4f' % worst, flush=True)
    return out

if __name__ == '__main__':
    print(fmt('LRU', lruref()))
    report('LRUreq', LRUreq)
    report('credit', lambda c: Credit(c))
    report('credit notail', lambda c: Credit(c, tail=False))
    report('credit reqtime', lambda c: Credit(c, reqtime=True))
