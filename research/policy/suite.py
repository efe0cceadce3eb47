#!/usr/bin/env python3
"""Deterministic generators of the eviction trace suite (agentic sessions, RL rollouts, RAG) in Mooncake's format.

    python3 research/policy/suite.py            # writes tests/TierKv.Analysis.Tests/data/suite/{tune,check}/*.jsonl

Every trace is a list of requests; a request's context is a list of token segments (segment id, length). Block ids
are chained prefix hashes of 512-token blocks computed from the segments, exactly as an engine would: two requests
share block i only when their first 512 x (i + 1) tokens are the same segments, and a partial last block is shared
only by an identical request. So a growing context re-reads its full blocks and gets a new partial tail every turn,
a subagent forked from a parent shares the parent's prefix, and a compaction that rewrites the history keeps only
the blocks of the system prompt. The parameters and the published statistics they follow are in SOURCE.md beside
the traces. Same seed, same bytes (Python's `random.Random` is portable across versions for these calls).
"""
import json, math, os, random, sys

BLOCK = 512
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "TierKv.Analysis.Tests", "data", "suite")


class Blocks:
    """Chained block ids of token-segment contexts (one id space per trace)."""

    def __init__(self):
        self.ids = {}
        self.next_seg = 1

    def segment(self, n):
        s = self.next_seg
        self.next_seg += 1
        return (s, max(1, int(n)))

    def chain(self, segments, salt=0):
        out, parent, piece, fill = [], salt, [], 0
        for sid, n in segments:
            off = 0
            while off < n:
                take = min(n - off, BLOCK - fill)
                piece.append((sid, off, take))
                off += take
                fill += take
                if fill == BLOCK:
                    parent = self._id(parent, piece)
                    out.append(parent)
                    piece, fill = [], 0
        if piece:
            out.append(self._id(parent, piece))
        return out

    def _id(self, parent, piece):
        k = (parent, tuple(piece))
        v = self.ids.get(k)
        if v is None:
            v = len(self.ids) + 1
            self.ids[k] = v
        return v


def lognormal(rng, median, sigma, lo, hi):
    return min(hi, max(lo, int(median * math.exp(rng.gauss(0, sigma)))))


def zipf_weights(n, alpha):
    w = [1.0 / (i + 1) ** alpha for i in range(n)]
    s = sum(w)
    return [x / s for x in w]


class Writer:
    def __init__(self, blocks):
        self.rows, self.t, self.b = [], 0.0, blocks

    def request(self, rng, segments, out_tokens, gap_ms, salt=0):
        self.t += rng.expovariate(1.0 / gap_ms)
        ids = self.b.chain(segments, salt)
        tokens = sum(n for _, n in segments)
        self.rows.append({"timestamp": int(self.t), "input_length": tokens, "output_length": int(out_tokens), "hash_ids": ids})

    def save(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            for r in self.rows:
                f.write(json.dumps(r, separators=(", ", ": ")) + "\n")
        acc = sum(len(r["hash_ids"]) for r in self.rows)
        distinct = len({h for r in self.rows for h in r["hash_ids"]})
        seen, rep = set(), 0
        for r in self.rows:
            for h in r["hash_ids"]:
                rep += h in seen
            seen.update(r["hash_ids"])
        print("%-40s %6d requests %8d accesses %7d distinct reuse %.4f mean input %.0f" % (
            os.path.relpath(path), len(self.rows), acc, distinct, rep / max(1, acc),
            sum(r["input_length"] for r in self.rows) / len(self.rows)))


def agentic(seed, sessions_total, concurrency, products, sys_blocks, compact_tokens, turns_median, subagent_p, fork_p):
    """Coding-agent sessions: a product's shared system prompt + tool definitions, a task, then turns that each add an
    assistant tool call and a tool result; subagents (forked from the parent's context, or fresh with their own system
    prompt) run a few turns and return a summary; a context over `compact_tokens` is compacted (system prompt + summary)."""
    rng = random.Random(seed)
    b = Blocks()
    w = Writer(b)
    sysp = [b.segment(sys_blocks[i] * BLOCK - rng.randrange(BLOCK)) for i in range(products)]
    subsys = [b.segment(rng.randint(4, 10) * BLOCK) for _ in range(products)]
    pw = zipf_weights(products, 1.0)

    def new_session(parent=None):
        p = rng.choices(range(products), pw)[0] if parent is None else parent["p"]
        if parent is not None and rng.random() < fork_p:
            ctx = list(parent["ctx"]) + [b.segment(lognormal(rng, 300, 0.6, 50, 3000))]
        elif parent is not None:
            ctx = [subsys[p], b.segment(lognormal(rng, 600, 0.7, 50, 4000))]
        else:
            ctx = [sysp[p], b.segment(lognormal(rng, 400, 1.0, 30, 8000))]
        turns = lognormal(rng, turns_median if parent is None else 8, 0.8, 2, 400 if parent is None else 40)
        return {"p": p, "ctx": ctx, "left": turns, "parent": parent, "child": None}

    active = [new_session() for _ in range(concurrency)]
    started = concurrency
    while active:
        i = rng.randrange(len(active))
        s = active[i]
        if s["child"] is not None:
            s = s["child"]
        w.request(rng, s["ctx"], lognormal(rng, 150, 1.0, 10, 4000), 400)
        # The model's tool call (its output) and the tool's result join the context.
        s["ctx"] = s["ctx"] + [b.segment(lognormal(rng, 150, 1.0, 10, 4000)), b.segment(lognormal(rng, 700, 1.2, 20, 25000))]
        s["left"] -= 1
        if sum(n for _, n in s["ctx"]) > compact_tokens:
            s["ctx"] = [s["ctx"][0], b.segment(lognormal(rng, 3000, 0.4, 800, 12000))]
        if s["parent"] is None and s["child"] is None and rng.random() < subagent_p:
            s["child"] = new_session(s)
            continue
        if s["left"] <= 0:
            if s["parent"] is not None:
                par = s["parent"]
                par["child"] = None
                par["ctx"] = par["ctx"] + [b.segment(lognormal(rng, 500, 0.8, 50, 5000))]
            elif started < sessions_total:
                active[i] = new_session()
                started += 1
            else:
                active.pop(i)
    return w


def rl(seed, steps, prompts_per_step, group_sizes, turn_choices, tool_prompt_blocks):
    """GRPO rollout generation: each step samples a batch of prompts, each sent G times (the group); multi-turn tool-use
    rollouts extend each sample's own context by its output and a tool result until it stops. The weights change after
    every step, so the KV of one step is never valid in the next (keys are salted by step, as the layout fingerprint
    of new weights would be)."""
    rng = random.Random(seed)
    b = Blocks()
    w = Writer(b)
    sysp = b.segment(tool_prompt_blocks * BLOCK - 100)
    dataset = [b.segment(lognormal(rng, 300, 0.8, 40, 6000)) for _ in range(prompts_per_step * steps // 2)]
    for step in range(steps):
        salt = 10 ** 9 * (step + 1)
        g = rng.choice(group_sizes)
        samples = []
        for q in rng.sample(dataset, prompts_per_step):
            turns = rng.choice(turn_choices)
            for _ in range(g):
                samples.append({"ctx": [sysp, q], "left": rng.randint(1, turns)})
        # First wave: every sample of a group submitted together; then turns come back as tools finish.
        for s in samples:
            w.request(rng, s["ctx"], lognormal(rng, 600, 0.8, 20, 8000), 5, salt)
        live = [s for s in samples]
        while live:
            rng.shuffle(live)
            nxt = []
            for s in live:
                s["left"] -= 1
                if s["left"] <= 0:
                    continue
                s["ctx"] = s["ctx"] + [b.segment(lognormal(rng, 600, 0.8, 20, 8000)), b.segment(lognormal(rng, 400, 1.0, 20, 6000))]
                w.request(rng, s["ctx"], lognormal(rng, 600, 0.8, 20, 8000), 5, salt)
                nxt.append(s)
            live = nxt
    return w


def rag(seed, requests, docs, alpha, k_range, apps, followup_p):
    """Retrieval-augmented generation: an app's system prompt, then k retrieved documents in rank order (drawn with
    Zipf popularity), then the question; some requests are follow-ups in a chat that keeps the earlier context."""
    rng = random.Random(seed)
    b = Blocks()
    w = Writer(b)
    doc = [b.segment(lognormal(rng, 900, 0.8, 100, 8000)) for _ in range(docs)]
    order = list(range(docs))
    rng.shuffle(order)
    cum, acc = [], 0.0
    for x in zipf_weights(docs, alpha):
        acc += x
        cum.append(acc)
    sysp = [b.segment(rng.randint(1, 4) * BLOCK + rng.randrange(BLOCK)) for _ in range(apps)]
    chats = []
    import bisect
    for _ in range(requests):
        if chats and rng.random() < followup_p:
            c = rng.choice(chats)
        else:
            c = {"ctx": [sysp[rng.randrange(apps)]]}
            chats.append(c)
            if len(chats) > 200:
                chats.pop(0)
        k = rng.randint(*k_range)
        picks = []
        while len(picks) < k:
            d = order[min(docs - 1, bisect.bisect_left(cum, rng.random()))]
            if d not in picks:
                picks.append(d)
        ctx = c["ctx"] + [doc[d] for d in picks] + [b.segment(lognormal(rng, 80, 0.6, 10, 600))]
        w.request(rng, ctx, lognormal(rng, 250, 0.6, 20, 2000), 60)
        c["ctx"] = ctx + [b.segment(lognormal(rng, 250, 0.6, 20, 2000))]
    return w


def main():
    suite = {
        "tune/agentic_sessions.jsonl": lambda: agentic(17, sessions_total=24, concurrency=12, products=3, sys_blocks=[30, 24, 36],
                                                       compact_tokens=96_000, turns_median=60, subagent_p=0.03, fork_p=0.5),
        "check/agentic_sessions.jsonl": lambda: agentic(1017, sessions_total=28, concurrency=20, products=4, sys_blocks=[34, 20, 28, 40],
                                                        compact_tokens=128_000, turns_median=45, subagent_p=0.05, fork_p=0.6),
        "tune/rl_rollouts.jsonl": lambda: rl(17, steps=8, prompts_per_step=48, group_sizes=[8, 16], turn_choices=[1, 4, 6], tool_prompt_blocks=3),
        "check/rl_rollouts.jsonl": lambda: rl(1017, steps=6, prompts_per_step=16, group_sizes=[32, 64], turn_choices=[1, 3, 8], tool_prompt_blocks=5),
        "tune/rag_documents.jsonl": lambda: rag(17, requests=9000, docs=20_000, alpha=1.0, k_range=(3, 5), apps=4, followup_p=0.25),
        "check/rag_documents.jsonl": lambda: rag(1017, requests=9000, docs=40_000, alpha=0.9, k_range=(2, 6), apps=6, followup_p=0.35),
    }
    only = sys.argv[1:]
    for name, make in suite.items():
        if only and not any(o in name for o in only):
            continue
        make().save(os.path.join(OUT, name))


if __name__ == "__main__":
    main()
