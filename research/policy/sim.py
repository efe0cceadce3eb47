import json, sys, heapq, collections, time
import os
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The conversation trace: $TIERKV_TRACES/mooncake/ (as CI sets it) or ../shared/traces/mooncake/ beside the checkout.
_SHARED = os.environ.get('TIERKV_TRACES') or os.path.join(os.path.dirname(_ROOT), 'shared', 'traces')
_DATA = os.path.join(_ROOT, 'tests', 'TierKv.Analysis.Tests', 'data', 'mooncake')
TRACES = {
 'conv': (os.path.join(_SHARED, 'mooncake', 'conversation_trace.jsonl'), [1000,2000,5859,10000,20000,50000]),
 'syn': (os.path.join(_DATA, 'synthetic_trace.jsonl'), [1000,2196,5859,20000]),
 'arxiv': (os.path.join(_DATA, 'arxiv_slice.jsonl'), [146,731,1000,2000,5859]),
}
_cache = {}
OUTLEN = {}; INLEN = {}; TS = {}
def load(name):
    if name in _cache: return _cache[name]
    path = TRACES[name][0]
    reqs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line: continue
            o = json.loads(line)
            reqs.append(o['hash_ids'])
            OUTLEN[id(reqs[-1])] = o['output_length']; INLEN[id(reqs[-1])] = o['input_length']; TS[id(reqs[-1])] = o['timestamp']
    _cache[name] = reqs
    return reqs

def run(reqs, pol):
    """pol: object with .cap, contains(k) via pol.res (dict/set), .begin(req), .hit(k,i,req), .insert(k,i,req), .end(req)"""
    res = pol.res
    hits = 0; total = 0
    for req in reqs:
        n = len(req); total += n
        h = 0
        for k in req:
            if k in res: h += 1
            else: break
        hits += h
        pol.begin(req, h)
        for i, k in enumerate(req):
            if k in res: pol.hit(k, i, req)
            else: pol.insert(k, i, req)
        pol.end(req)
    return hits / total

class LRU:
    def __init__(self, cap):
        self.cap = cap; self.res = collections.OrderedDict()
    def begin(self, req, h): pass
    def end(self, req): pass
    def hit(self, k, i, req): self.res.move_to_end(k)
    def insert(self, k, i, req):
        if len(self.res) >= self.cap: self.res.popitem(last=False)
        self.res[k] = 1

def belady(reqs, cap):
    flat = [k for r in reqs for k in r]
    nxt = [0]*len(flat); last = {}
    INF = 1 << 60
    for p in range(len(flat)-1, -1, -1):
        k = flat[p]; nxt[p] = last.get(k, INF); last[k] = p
    res = {}; heap = []; hits = 0; p = 0
    for req in reqs:
        h = 0
        for k in req:
            if k in res: h += 1
            else: break
        hits += h
        for k in req:
            nu = nxt[p]; p += 1
            if k not in res and len(res) >= cap:
                while True:
                    negnu, v = heapq.heappop(heap)
                    if res.get(v) == -negnu:
                        del res[v]; break
            res[k] = nu
            heapq.heappush(heap, (-nu, k))
    return hits / len(flat)

if __name__ == '__main__':
    for name in TRACES:
        reqs = load(name); caps = TRACES[name][1]
        print(name, len(reqs), sum(map(len, reqs)), len({k for r in reqs for k in r}))
        print(' LRU   ', ' '.join('%d:%.4f' % (c, run(reqs, LRU(c))) for c in caps))
        print(' Belady', ' '.join('%d:%.4f' % (c, belady(reqs, c)) for c in caps))
