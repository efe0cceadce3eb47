import heapq, collections, sys, math
from sim import run, load, TRACES, LRU
from pols import report, fmt, lruref

def lb(x): return int(x + 1).bit_length() - 1

FEATS = {
  'none': lambda i, n, hp: 0,
  'n': lambda i, n, hp: min(max(lb(n), 2), 7) - 2,
  'newlen': lambda i, n, hp: min(lb(n - hp), 5),
  'depth': lambda i, n, hp: min(lb(i), 7),
  'n_depth': lambda i, n, hp: (min(max(lb(n), 2), 7) - 2) * 8 + min(lb(i), 7),
  'ext_newlen': lambda i, n, hp: (7 if hp > 1 else 0) + min(lb(n - hp), 6),
  'mix': None, 'out': None, 'cb': None,
  'en6': lambda i, n, hp: (3 if hp > 1 else 0) + (lambda x: 0 if x <= 2 else (1 if x <= 6 else 2))(n - hp if hp > 1 else n // 8),
  'en8': lambda i, n, hp: (4 if hp > 1 else 0) + min(lb(n - hp) // (1 if hp > 1 else 2), 3),
  'en_depth': lambda i, n, hp: ((7 if hp > 1 else 0) + min(lb(n - hp), 6)) * 3 + (0 if i < 4 else (1 if i < 16 else 2)),
  'en_reldepth': lambda i, n, hp: ((7 if hp > 1 else 0) + min(lb(n - hp), 6)) * 2 + (1 if 2 * i >= n else 0),
  'ext3': lambda i, n, hp: (7 + min(lb(n - hp), 3) * 3 + (0 if hp < 8 else (1 if hp < 32 else 2))) if hp > 1 else min(lb(n), 6),
  'ext_newlen_d': lambda i, n, hp: ((7 if hp > 1 else 0) + min(lb(n - hp), 6)) * 2 + (1 if i < hp else 0),
  'n_newlen': lambda i, n, hp: (min(max(lb(n), 2), 7) - 2) * 6 + min(lb(n - hp), 5),
}

class FC:
    """Feature-refined credit. Subclass s = feature bucket. f-level fb = min(f,3).
    p[fb][s] = online P(reuse within H accesses) (resolved exactly at age H via ghost FIFO), shrunk to p[fb].
    tau = kf[fb]*C * (p[fb][s]/p[fb])**beta ; new tail -> bottom; request time + suffix max + deepest-first."""
    def __init__(self, cap, kf=(0.0, 4, 8, 8), feat='n', Hmul=4.0, beta=1.0, alpha=50.0, suffix=True, k0=0.0, warm=True, f0mode='lin'):
        self.f0mode = f0mode
        self.cap = cap; self.kf = kf; self.ff = FEATS[feat]; self.H = int(Hmul * cap); self.beta = beta
        self.alpha = alpha; self.suffix = suffix; self.k0 = k0
        self.res = {}; self.heap = []; self.t = 0
        self.f = {}; self.tl = {}; self.q = collections.deque()
        self.pos = collections.defaultdict(float); self.tot = collections.defaultdict(float)
        self.ppos = [0.0]*4; self.ptot = [0.0]*4
        self.ghostc = {}
    def ratio(self, fb, s):
        pt = self.ptot[fb]
        if pt < 100: return 1.0
        pf = self.ppos[fb] / pt
        if pf <= 0: return 1.0
        key = (fb, s)
        ps = (self.pos[key] + self.alpha * pf) / (self.tot[key] + self.alpha)
        return ps / pf
    def begin(self, req, h):
        T0 = self.t; n = len(req); C = self.cap
        g = self.f; hp = 0
        for k in req:
            if k in g: hp += 1
            else: break
        pr = [0.0]*n; cl = [None]*n
        fget = self.f.get
        for i, k in enumerate(req):
            f = fget(k, 0)
            fb = 3 if f > 3 else f
            s = self.ff(i, n, hp)
            cl[i] = (fb, s)
            if f == 0 and i == n - 1:
                pr[i] = -1e18; cl[i] = None
            else:
                r = self.ratio(fb, s)
                if fb == 0: tau = self.k0 * C * (r if self.f0mode == 'lin' else (r - 1 if self.f0mode == 'neg' else max(0.0, r - 1)))
                else: tau = self.kf[fb] * C * (r ** self.beta)
                pr[i] = T0 + tau
        if self.suffix:
            m = -1e18
            for i in range(n - 1, -1, -1):
                if pr[i] > m: m = pr[i]
                elif pr[i] > -1e17: pr[i] = m
        self.pr = pr; self.cl = cl; self.T0 = T0
    def end(self, req): pass
    def _touch(self, k, i):
        p = (self.pr[i], -i)
        self.res[k] = p; heapq.heappush(self.heap, (p, k))
        self.f[k] = self.f.get(k, 0) + 1; self.tl[k] = self.t
        c = self.cl[i]
        if c is not None:
            self.q.append((self.t, k, c))
        t = self.t; q = self.q; lim = t - self.H; tl = self.tl
        while q and q[0][0] <= lim:
            t0, kk, cc = q.popleft()
            reused = tl[kk] != t0
            self.tot[cc] += 1; self.ptot[cc[0]] += 1
            if reused: self.pos[cc] += 1; self.ppos[cc[0]] += 1
        self.t += 1
    def hit(self, k, i, req): self._touch(k, i)
    def insert(self, k, i, req):
        res = self.res
        if len(res) >= self.cap:
            heap = self.heap
            while True:
                p, v = heapq.heappop(heap)
                if res.get(v) == p: del res[v]; break
        self._touch(k, i)

if __name__ == '__main__':
    print(fmt('LRU', lruref()))
    for lab, kw in eval(sys.argv[1]):
        report(lab, lambda c: FC(c, **kw))
