import heapq, collections, sys, math
from sim import run, load, TRACES, LRU, OUTLEN
from pols import report, fmt, lruref
from fc import FEATS, lb

class LC2:
    """Knapsack/shadow-price learned credit.
    class = (fb=min(f,3), feature bucket). Ghost reuse-age histograms h[c][a] (a in buckets of W accesses, A buckets),
    at-risk counts from resolved + pending entries. Every P accesses: find price lam by bisection so that
    sum_c birthrate_c * E[min(R_c, tau_c(lam))] = beta*C, where tau_c(lam) = argmax_b sum_{a<b} (h_c[a] - lam*S_c[a]).
    priority = T0 + tau_c; suffix max along chain, deepest first; new tail at bottom."""
    def __init__(self, cap, feat='ext_newlen', A=128, Wdiv=8, period=8192, beta=1.0, alpha=50.0,
                 warm=(0, 4, 8, 8), suffix=True, nfeat=14, minbirth=2000, lamshrink=1.0, gshift=7, fb_eta=0.0, decay=1.0, startfrac=0.25, lbguard=True, learntail=False):
        self.lbguard = lbguard
        self.startfrac = startfrac
        self.decay = decay; self.tdec = 0.0
        self.fb_eta = fb_eta; self.es = 0.0; self.en = 0
        self.cap = cap; self.ff = FEATS[feat]; self.A = A; self.W = max(8, cap // Wdiv); self.H = A * self.W
        self.period = period; self.beta = beta; self.alpha = alpha; self.suffix = suffix
        self.learntail = learntail
        self.nf = nfeat; self.nc = 4 * nfeat + (1 if learntail else 0); self.minbirth = minbirth; self.lamshrink = lamshrink
        self.res = {}; self.heap = []; self.t = 0
        self.f = {}; self.gh = {}; self.q = collections.deque()
        self.h = [[0]*A for _ in range(self.nc)]; self.cen = [0]*self.nc
        self.pend = [[0]*A for _ in range(self.nc)]; self.births = [0]*self.nc
        self.tau = None; self.warm = warm; self.tl = {}
        self.gapfeat = (feat == 'mix'); self.outfeat = (feat == 'out'); self.cbfeat = (feat == 'cb'); self.lastbody = set(); self.gshift = gshift
    def begin(self, req, h):
        T0 = self.t; n = len(req); C = self.cap
        fm = self.f; hp = 0
        for k in req:
            if k in fm: hp += 1
            else: break
        pr = [0.0]*n; cl = [0]*n
        for i, k in enumerate(req):
            f = fm.get(k, 0); fb = 3 if f > 3 else f
            if self.cbfeat:
                grp = 0 if hp <= 1 else (1 if req[hp - 1] in self.lastbody else 2)
                s_ = grp * 7 + min(lb(n - hp), 6)
            elif self.outfeat:
                ol = OUTLEN[id(req)]; ob = 0 if ol <= 2 else (1 if ol < 32 else 2)
                s_ = ((7 if hp > 1 else 0) + min(lb(n - hp), 6)) * 3 + ob
            elif self.gapfeat:
                if f == 0: s_ = (7 if hp > 1 else 0) + min(lb(n - hp), 6)
                else: s_ = 14 + min(max(lb(T0 - self.tl[k]) - self.gshift, 0), 9)
            else: s_ = self.ff(i, n, hp)
            c = fb * self.nf + s_
            if self.learntail and f == 0 and i == n - 1: c = 4 * self.nf   # new tails: a class of their own, learned
            cl[i] = c
            if f == 0 and i == n - 1 and (not self.learntail or (self.tau is None and self._tails_rarely_reused())): pr[i] = -1e18
            else:
                tau = self.tau[c] if self.tau is not None else self.warm[fb] * C
                pr[i] = T0 + tau
        if self.suffix:
            m = -1e18
            for i in range(n - 1, -1, -1):
                if pr[i] > m: m = pr[i]
                elif pr[i] > -1e17: pr[i] = m
        self.pr = pr; self.cl = cl; self.T0 = T0; self.n = n
        if self.cbfeat and n >= 2: self.lastbody.add(req[n - 2])
    def end(self, req): pass
    def _tails_rarely_reused(self):
        """Until retention is learned: demote new tails while they come back less than half as often as other new blocks."""
        T = 4 * self.nf
        tr = (sum(self.h[T]) + 1) / (self.births[T] + 2)
        nr = (sum(sum(self.h[c]) for c in range(self.nf)) + 1) / (sum(self.births[c] for c in range(self.nf)) + 2)
        return tr < 0.5 * nr
    def _touch(self, k, i):
        t = self.t; W = self.W; A = self.A
        p = (self.pr[i], -i)
        self.res[k] = p; heapq.heappush(self.heap, (p, k))
        self.f[k] = self.f.get(k, 0) + 1; self.tl[k] = self.T0
        q = self.q; lim = t - self.H; gh = self.gh
        while q and q[0][0] <= lim:
            t0, kk = q.popleft()
            g = gh[kk]
            if g[0] == t0 and g[1] >= 0:
                w = self.decay ** (t // self.period - t0 // self.period) if self.decay < 1 else 1
                self.cen[g[1]] += w; self.pend[g[1]][(t0 // W) % A] -= w
        g = self.gh.get(k)
        if g is not None and g[1] >= 0:
            t0, c0 = g
            if t - t0 < self.H:
                w = self.decay ** (t // self.period - t0 // self.period) if self.decay < 1 else 1
                self.h[c0][(t - t0) // W] += w; self.pend[c0][(t0 // W) % A] -= w
        if i == self.n - 1 and self.pr[i] < -1e17 and not self.learntail:
            self.gh[k] = (t, -1)   # tails not learned
        else:
            c = self.cl[i]
            self.gh[k] = (t, c); self.pend[c][(t // W) % A] += 1; self.births[c] += 1
            self.q.append((t, k))
        self.t = t + 1
        if self.t % self.period == 0: self._recompute()
    def hit(self, k, i, req): self._touch(k, i)
    def insert(self, k, i, req):
        res = self.res
        if len(res) >= self.cap:
            heap = self.heap
            while True:
                p, v = heapq.heappop(heap)
                if res.get(v) == p: del res[v]; break
            if p[0] > -1e17: self.es += p[0] - self.t; self.en += 1
        self._touch(k, i)
    def _recompute(self):
        A = self.A; W = self.W; t = self.t; cur = t // W
        self._solve()
        d = self.decay
        if d < 1:
            for c in range(self.nc):
                hc = self.h[c]; pc = self.pend[c]
                for a in range(A): hc[a] *= d; pc[a] *= d
                self.cen[c] *= d; self.births[c] *= d
            self.tdec = self.tdec * d + self.period
    def _solve(self):
        A = self.A; W = self.W; t = self.t; cur = t // W
        if t < self.H * self.startfrac or sum(self.births) < self.minbirth: return
        # per class normalized hit-prob per bucket hp[a] and survival S[a] (fraction at risk), via KM
        nf = self.nf
        rawh = []; rawN = []
        for c in range(self.nc):
            h = self.h[c]; pend = self.pend[c]; S = self.cen[c]; N = [0.0]*A
            for a in range(A - 1, -1, -1):
                S += h[a] + pend[(cur - a) % A]; N[a] = S
            rawh.append(h); rawN.append(N)
        # KM hazards, shrink class hazards toward f-level hazards
        haz = []
        for fb in range(4):
            hs = [sum(rawh[fb*nf+s][a] for s in range(nf)) for a in range(A)]
            Ns = [sum(rawN[fb*nf+s][a] for s in range(nf)) for a in range(A)]
            hz = [(hs[a] / Ns[a]) if Ns[a] > 0 else 0.0 for a in range(A)]
            for s in range(nf):
                c = fb*nf+s; h = rawh[c]; N = rawN[c]
                haz.append([(h[a] + self.alpha * hz[a]) / (N[a] + self.alpha) for a in range(A)])
        if self.learntail:
            h = rawh[4 * nf]; N = rawN[4 * nf]
            haz.append([(h[a] / N[a]) if N[a] > 0 else 0.0 for a in range(A)])
        # per class: hit prob density d[a] = surv(a)*haz(a), survival-in-cache S[a]=surv(a)
        dens = []; surv = []
        for c in range(self.nc):
            s = 1.0; d = [0.0]*A; sv = [0.0]*A
            for a in range(A):
                sv[a] = s; d[a] = s * haz[c][a]; s *= (1 - haz[c][a])
            dens.append(d); surv.append(sv)
        rate = [self.births[c] / (self.tdec if self.decay < 1 else t) for c in range(self.nc)]   # births per access
        def solve(lam):
            occ = 0.0; taus = []
            for c in range(self.nc):
                d = dens[c]; sv = surv[c]; G = 0.0; best = 0.0; bb = 0; L = 0.0; Lb = 0.0
                for a in range(A):
                    G += d[a] - lam * sv[a]; L += sv[a]
                    if G > best: best = G; bb = a + 1; Lb = L
                taus.append(bb * W); occ += rate[c] * Lb * W
            return occ, taus
        lo, hi = 1e-6, 1.0
        if self.fb_eta and self.en:
            sgn = self.es / self.en / self.cap
            self.beta *= math.exp(-self.fb_eta * max(-1.0, min(1.0, sgn)))
            self.beta = max(0.3, min(3.0, self.beta))
        self.es = 0.0; self.en = 0
        target = self.beta * self.cap
        for _ in range(25):
            mid = math.sqrt(lo * hi)
            occ, taus = solve(mid)
            if occ > target: lo = mid
            else: hi = mid
        occ, taus = solve(hi)
        if self.lbguard and hi <= 2e-6:
            return      # horizon not yet observable: keep previous taus (warm)
        self.tau = taus; self.lam = hi; self.occ = occ

if __name__ == '__main__':
    print(fmt('LRU', lruref()))
    for lab, kw in eval(sys.argv[1]):
        report(lab, lambda c: LC2(c, **kw))
