#!/usr/bin/python3
"""Reproduces TierKV's chunk-key test vectors from the specification in docs/hashing.md alone.

Needs Debian's python3-xxhash (apt-get install python3-xxhash; run it with /usr/bin/python3).
Prints one JSON object per vector: the layout fingerprint, the root key h0 and the chunk keys, as 32 hex digits.
With --check FILE it compares against a JSON-lines file of the same shape (e.g. what `tierkv keys --vectors` prints)
and exits 1 on any difference.
"""
import json
import struct
import sys

import xxhash

DTYPE = {"f32": 1, "f16": 2, "bf16": 3, "fp8_e4m3": 4, "fp8_e5m2": 5, "int8": 6}


def h128(data: bytes) -> bytes:
    """XXH3-128, seed 0, canonical (big-endian) digest."""
    return xxhash.xxh3_128_digest(data)


def layout_encoding(model_id, layers, kv_heads, head_dim, dtype, tokens_per_chunk=256, tp_rank=0, tp_size=1):
    mid = model_id.encode("utf-8")
    return (b"TierKV/layout/v1" + struct.pack("<I", len(mid)) + mid
            + struct.pack("<7I", layers, kv_heads, head_dim, DTYPE[dtype], tokens_per_chunk, tp_rank, tp_size))


def keys(layout, salt: bytes, tokens):
    fp = h128(layout_encoding(**layout))
    h = h128(b"TierKV/root/v1" + fp + struct.pack("<I", len(salt)) + salt)
    root = h
    tpc = layout.get("tokens_per_chunk", 256)
    out = []
    for i in range(len(tokens) // tpc):
        chunk = tokens[i * tpc:(i + 1) * tpc]
        t = h128(struct.pack("<%dI" % tpc, *[x & 0xFFFFFFFF for x in chunk]))
        h = h128(h + t)
        out.append(h.hex())
    return fp.hex(), root.hex(), out


LLAMA3_8B = dict(model_id="meta-llama/Meta-Llama-3-8B", layers=32, kv_heads=8, head_dim=128, dtype="bf16")
LLAMA32_1B = dict(model_id="meta-llama/Llama-3.2-1B", layers=16, kv_heads=8, head_dim=64, dtype="bf16")
TINY = dict(model_id="test/tiny", layers=2, kv_heads=2, head_dim=4, dtype="f16", tokens_per_chunk=4, tp_rank=1, tp_size=2)

VECTORS = [
    ("empty salt, one chunk", LLAMA3_8B, b"", list(range(256))),
    ("a salt, one chunk", LLAMA3_8B, b"tenant-a", list(range(256))),
    ("second layout, one chunk", LLAMA32_1B, b"", list(range(256))),
    ("several chunks", LLAMA3_8B, b"", [(i * 7919 + 13) % 128256 for i in range(3 * 256)]),
    ("small chunks, tp rank 1 of 2, salt, partial tail", TINY, b"x", [i * 3 for i in range(22)]),
    ("large token ids, no full chunk", LLAMA3_8B, b"tenant-b", [2**31 - 1, 0, 128255]),
    ("large token ids, two chunks", LLAMA3_8B, bytes(range(16)), [(2**31 - 1 - i * 65537) for i in range(512)]),
]


def main():
    rows = []
    for name, layout, salt, tokens in VECTORS:
        fp, root, ks = keys(layout, salt, tokens)
        rows.append({"name": name, "fingerprint": fp, "root": root, "keys": ks})
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        theirs = [json.loads(line) for line in open(sys.argv[2]) if line.strip()]
        bad = 0
        for mine, other in zip(rows, theirs):
            for field in ("fingerprint", "root", "keys"):
                if mine[field] != other.get(field):
                    print(f"MISMATCH {mine['name']} {field}: spec {mine[field]} vs {other.get(field)}")
                    bad += 1
        if len(rows) != len(theirs):
            print(f"MISMATCH: {len(rows)} vectors in the spec, {len(theirs)} given")
            bad += 1
        print("all vectors match" if bad == 0 else f"{bad} mismatches")
        sys.exit(1 if bad else 0)
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
