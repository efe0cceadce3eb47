#!/usr/bin/env python3
"""Replays the command sequences of LMCache's RESP connectors against tierkv serve and redis-server, and requires the
same replies from both (docs/lmcache.md lists each sequence with the LMCache source file it comes from).

Usage: lmcache_compat.py --tierkv PORT --redis PORT --redis-cluster PORT [--chunk-bytes N] [--big-chunk-bytes N]

--redis is a standalone redis-server; --redis-cluster a redis-server with cluster-enabled yes that owns all 16384
slots (the reference for the cluster connector, since tierkv serve answers as a one-node cluster). Exit code 0 when
every scenario gave equal replies on both, 1 otherwise. Uses redis-py (Debian's python3-redis) as LMCache does.
"""
import argparse
import asyncio
import os
import socket
import struct
import sys
import threading

import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import ClusterNode, RedisCluster

HOST = "127.0.0.1"
MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def engine_key(i, fmt="vllm", world=1, worker=0):
    """CacheEngineKey.to_string(): fmt@model@world_size@worker_id@chunk_hash (lmcache/utils.py)."""
    return f"{fmt}@{MODEL}@{world}@{worker}@{(0x9E3779B97F4A7C15 * (i + 1)) & 0xFFFFFFFFFFFFFFFF:x}"


def payload(i, n):
    block = bytes((i * 131 + j) & 0xFF for j in range(4096))
    return (block * (n // 4096 + 1))[:n]


def metadata(length):
    """RemoteMetadata.serialize(): 28 bytes, the v1 connector's <key>metadata value (lmcache/v1/protocol.py)."""
    return struct.pack("<iiiiiii", length, 2, 32, 256, 8, 128, 1)


def outcome(fn):
    try:
        return ("ok", fn())
    except redis.exceptions.ResponseError as e:
        return ("error", normalize_error(str(e)))


def normalize_error(msg):
    # Redis 7's "unknown command 'X', with args beginning with: ..." is compared up to the command name.
    if msg.startswith("unknown command"):
        return msg.split(",")[0]
    return msg


# --- scenarios: each returns a list of replies; both servers must give the same list ------------------------------


def v0_redis_connector(port, chunk):
    """lmcache/storage_backend/connector/redis_connector.py (RedisConnector, original engine): EXISTS, SET, GET, and
    list() as SCAN cursor MATCH * until the cursor is 0."""
    r = redis.Redis(host=HOST, port=port)
    out = []
    keys = [engine_key(i, fmt="v0") for i in range(12)]
    for i, k in enumerate(keys):
        out.append(bool(r.exists(k)))
        out.append(r.set(k, payload(i, chunk if i < 3 else 1000 + i)))
        out.append(bool(r.exists(k)))
    for i, k in enumerate(keys):
        out.append(r.get(k) == payload(i, chunk if i < 3 else 1000 + i))
    cursor, listed = 0, []
    while True:
        cursor, page = r.scan(cursor=cursor, match="v0@*")
        listed.extend(page)
        if cursor == 0:
            break
    out.append(sorted(k.decode() for k in listed))
    out.append(r.get(engine_key(99, fmt="v0")))
    r.close()
    return out


async def v1_redis_connector_async(port, chunk, n):
    """lmcache/v1/storage_backend/connector/redis_connector.py (RedisConnector): redis.asyncio with a connection pool
    of 150; put = SET <key>kv_bytes then SET <key>metadata (28 bytes); contains = EXISTS <key>metadata key by key;
    get = GET <key>metadata then GET <key>kv_bytes, DEL <key>metadata when kv_bytes is gone; batched calls gather
    coroutines, so many commands are in flight on many connections at once."""
    pool = aredis.ConnectionPool.from_url(f"redis://{HOST}:{port}", max_connections=150)
    r = aredis.Redis.from_pool(pool) if hasattr(aredis.Redis, "from_pool") else aredis.Redis(connection_pool=pool)
    keys = [engine_key(i) for i in range(n)]

    async def put(i, k):
        await r.set(k + "kv_bytes", payload(i, chunk))
        await r.set(k + "metadata", metadata(chunk))

    async def get(i, k):
        meta = await r.get(k + "metadata")
        if meta is None:
            return None
        kv = await r.get(k + "kv_bytes")
        if kv is None:
            await r.delete(k + "metadata")
            return "evicted"
        return (meta == metadata(chunk), kv == payload(i, chunk))

    out = [[bool(await r.exists(k + "metadata")) for k in keys]]
    await asyncio.gather(*(put(i, k) for i, k in enumerate(keys)))
    hits = 0
    for k in keys:
        if not await r.exists(k + "metadata"):
            break
        hits += 1
    out.append(hits)
    out.append(await asyncio.gather(*(get(i, k) for i, k in enumerate(keys))))
    # The consistency path: kv_bytes gone, metadata left; get() deletes the metadata.
    await r.delete(keys[0] + "kv_bytes")
    out.append(await get(0, keys[0]))
    out.append(await r.exists(keys[0] + "metadata"))
    await r.close()
    await pool.disconnect()
    return out


def v1_redis_connector(port, chunk):
    return asyncio.run(v1_redis_connector_async(port, chunk, 8 if chunk <= (4 << 20) else 4))


async def v1_cluster_connector_async(port, chunk):
    """lmcache/v1/storage_backend/connector/redis_connector.py (RedisClusterConnector): redis.asyncio.cluster
    RedisCluster(startup_nodes=[ClusterNode(host, port)]): INFO (cluster_enabled), CLUSTER SLOTS, COMMAND, then the
    same GET/SET/EXISTS per key, routed by slot."""
    rc = RedisCluster(startup_nodes=[ClusterNode(HOST, port)], decode_responses=False)
    await rc.initialize()
    keys = [engine_key(i, fmt="cl") for i in range(6)]
    out = []
    for i, k in enumerate(keys):
        out.append(await rc.exists(k + "metadata"))
        out.append(await rc.set(k + "kv_bytes", payload(i, chunk)))
        out.append(await rc.set(k + "metadata", metadata(chunk)))
    for i, k in enumerate(keys):
        out.append((await rc.get(k + "metadata")) == metadata(chunk))
        out.append((await rc.get(k + "kv_bytes")) == payload(i, chunk))
    out.append(await rc.delete(keys[0] + "metadata"))
    out.append(await rc.get(keys[0] + "metadata"))
    out.append(len(rc.get_nodes()))
    out.append(rc.keyslot(keys[1] + "metadata"))
    await rc.close()
    return out


def v1_cluster_connector(port, chunk):
    return asyncio.run(v1_cluster_connector_async(port, chunk))


def resp_exact(sock, expected_len):
    buf = b""
    while len(buf) < expected_len:
        got = sock.recv(expected_len - len(buf))
        if not got:
            break
        buf += got
    return buf


def native_resp_client(port, chunk):
    """csrc/redis/resp.cpp (MultiRESPClient, the native RESP client): several worker threads, one connection each,
    each sending SET key <chunk_bytes> as one writev and expecting exactly +OK\\r\\n, GET expecting exactly
    $<chunk_bytes>\\r\\n<bytes>\\r\\n, EXISTS expecting :0 or :1; one command at a time per connection."""
    results = {}

    def worker(w):
        s = socket.create_connection((HOST, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        got = []
        for j in range(3):
            key = engine_key(w * 10 + j, fmt="native").encode()
            kh = b"$%d\r\n%s\r\n" % (len(key), key)
            s.sendall(b"*2\r\n$6\r\nEXISTS\r\n" + kh)
            got.append(resp_exact(s, 4))
            data = payload(w * 10 + j, chunk)
            s.sendall(b"*3\r\n$3\r\nSET\r\n" + kh + b"$%d\r\n" % chunk + data + b"\r\n")
            got.append(resp_exact(s, 5))
            s.sendall(b"*2\r\n$6\r\nEXISTS\r\n" + kh)
            got.append(resp_exact(s, 4))
            s.sendall(b"*2\r\n$3\r\nGET\r\n" + kh)
            header = b"$%d\r\n" % chunk
            reply = resp_exact(s, len(header) + chunk + 2)
            got.append(reply == header + data + b"\r\n")
        s.close()
        results[w] = got

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results[w] for w in sorted(results)]


def valkey_connector(port, chunk):
    """lmcache/v1/storage_backend/connector/valkey_connector.py (GLIDE clients): HELLO 3 at connect (RESP3), CLIENT
    SETNAME/SETINFO, then single-key SET key value [EX ttl] (valkey_ttl_sec), GET, EXISTS key; replayed on a raw
    socket so the RESP3 replies are compared byte for byte."""
    s = socket.create_connection((HOST, port))
    f = s.makefile("rb")

    def cmd(*args):
        frame = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        s.sendall(frame)

    def read():
        line = f.readline()
        kind = line[:1]
        if kind in (b"$", b"="):
            n = int(line[1:])
            return line + (f.read(n + 2) if n >= 0 else b"")
        if kind in (b"*", b"%", b"~"):
            n = int(line[1:]) * (2 if kind == b"%" else 1)
            return [line] + [read() for _ in range(n)]
        return line

    out = []
    cmd(b"HELLO", b"3")
    hello = read()
    out.append(hello[0][:1])  # a map; its contents (server name, version, id) differ by design
    for i in range(4):
        key = engine_key(i, fmt="valkey").encode()
        value = payload(i, chunk if i == 0 else 3000)
        cmd(b"EXISTS", key)
        out.append(read())
        if i % 2 == 0:
            cmd(b"SET", key, value, b"EX", b"86400")
        else:
            cmd(b"SET", key, value)
        out.append(read())
        cmd(b"GET", key)
        out.append(read() == b"$%d\r\n" % len(value) + value + b"\r\n")
        cmd(b"EXISTS", key)
        out.append(read())
        cmd(b"TTL", key)
        out.append(read())
    cmd(b"GET", b"valkey-missing")
    out.append(read())
    s.close()
    return out


def hash_tag_pipelines(port, chunk):
    """The batched Redis/Valkey forms (legacy Valkey connector; the batched Redis connector proposed upstream):
    {key}:kv_bytes and {key}:metadata hash tags, pipelined SETs (no transaction), MGET of metadata keys, multi-key
    EXISTS and DEL."""
    r = redis.Redis(host=HOST, port=port)
    keys = [engine_key(i, fmt="tag") for i in range(10)]
    p = r.pipeline(transaction=False)
    for i, k in enumerate(keys):
        p.set("{%s}:kv_bytes" % k, payload(i, chunk // 4))
        p.set("{%s}:metadata" % k, metadata(chunk // 4))
    out = [p.execute()]
    out.append(r.mget(["{%s}:metadata" % k for k in keys] + ["{missing}:metadata"]))
    kv = r.mget(["{%s}:kv_bytes" % k for k in keys[:4]])
    out.append([v == payload(i, chunk // 4) for i, v in enumerate(kv)])
    out.append(r.exists(*["{%s}:metadata" % k for k in keys], "{missing}:metadata"))
    p = r.pipeline(transaction=False)
    for k in keys:
        p.exists("{%s}:metadata" % k)
        p.get("{%s}:metadata" % k)
    out.append(p.execute())
    out.append(r.delete(*["{%s}:metadata" % k for k in keys[:3]]))
    out.append(r.exists(*["{%s}:metadata" % k for k in keys]))
    r.close()
    return out


def options_and_errors(port, chunk):
    """Forms every connector may send and what Redis answers to wrong ones: SET with EX/PX/NX/XX/KEEPTTL (a large
    value need not be the last argument), TTL/PTTL, AUTH default, unknown commands and options, the sentinel
    discovery command (redis-sentinel:// URLs), SELECT 0, PING, ECHO, DBSIZE-free checks; the connection stays usable."""
    r = redis.Redis(host=HOST, port=port)
    big = payload(7, chunk)
    out = []
    out.append(outcome(lambda: r.set("opt:big", big, ex=3600)))
    out.append(outcome(lambda: r.get("opt:big") == big))
    out.append(outcome(lambda: r.ttl("opt:big")))
    out.append(outcome(lambda: r.set("opt:big", b"x", nx=True)))
    out.append(outcome(lambda: r.set("opt:new", b"x", xx=True)))
    out.append(outcome(lambda: r.set("opt:new", b"x", nx=True, px=600000)))
    out.append(outcome(lambda: r.pttl("opt:new") > 590000))
    out.append(outcome(lambda: r.set("opt:new", b"y", keepttl=True)))
    out.append(outcome(lambda: r.ttl("opt:new")))
    out.append(outcome(lambda: r.set("opt:new", b"z")))
    out.append(outcome(lambda: r.ttl("opt:new")))
    out.append(outcome(lambda: r.ttl("opt:missing")))
    out.append(outcome(lambda: r.execute_command("SET", "opt:x", "v", "EX", "0")))
    out.append(outcome(lambda: r.execute_command("SET", "opt:x", "v", "EX", "soon")))
    out.append(outcome(lambda: r.execute_command("SET", "opt:x", "v", "NX", "XX")))
    out.append(outcome(lambda: r.execute_command("SET", "opt:x", "v", "WITHFEELING")))
    out.append(outcome(lambda: r.execute_command("SET", "opt:x")))
    out.append(outcome(lambda: r.execute_command("GET")))
    out.append(outcome(lambda: r.execute_command("NOSUCHCOMMAND", "a", "b")))
    out.append(outcome(lambda: r.execute_command("SENTINEL", "get-master-addr-by-name", "redismaster")))
    out.append(outcome(lambda: r.execute_command("SCAN", "notanumber")))
    out.append(outcome(lambda: r.execute_command("AUTH", "default", "any-password")))
    out.append(outcome(lambda: r.execute_command("SELECT", "0")))
    out.append(outcome(lambda: r.echo("still here")))
    out.append(outcome(lambda: r.ping()))
    out.append(outcome(lambda: r.delete("opt:big", "opt:new", "opt:x")))
    r.close()
    return out


SCENARIOS = [
    ("v0 RedisConnector (SCAN listing)", v0_redis_connector, "standalone"),
    ("v1 RedisConnector (asyncio pool, kv_bytes + metadata)", v1_redis_connector, "standalone"),
    ("v1 RedisClusterConnector (redis-cluster://)", v1_cluster_connector, "cluster"),
    ("native RESP client (csrc/redis/resp.cpp)", native_resp_client, "standalone"),
    ("Valkey connector (RESP3, SET EX)", valkey_connector, "standalone"),
    ("hash tags, pipelines, MGET", hash_tag_pipelines, "standalone"),
    ("options, errors, sentinel", options_and_errors, "standalone"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tierkv", type=int, required=True)
    ap.add_argument("--redis", type=int, required=True)
    ap.add_argument("--redis-cluster", type=int, required=True)
    ap.add_argument("--chunk-bytes", type=int, default=2 << 20)
    ap.add_argument("--big-chunk-bytes", type=int, default=0, help="also run the v1 connector with chunks of this size (32 MiB: Llama-3-8B, 256 tokens)")
    a = ap.parse_args()
    failed = 0
    runs = [(name, fn, kind, a.chunk_bytes) for name, fn, kind in SCENARIOS]
    if a.big_chunk_bytes:
        runs.append((f"v1 RedisConnector, {a.big_chunk_bytes >> 20} MiB chunks", v1_redis_connector, "standalone", a.big_chunk_bytes))
    for name, fn, kind, chunk in runs:
        ref_port = a.redis_cluster if kind == "cluster" else a.redis
        try:
            want = fn(ref_port, chunk)
        except Exception as e:  # the reference must pass: a failure here is a broken test setup
            print(f"SETUP  {name}: redis-server failed: {type(e).__name__}: {e}")
            failed += 1
            continue
        try:
            got = fn(a.tierkv, chunk)
        except Exception as e:
            got = f"{type(e).__name__}: {e}"
        if got == want:
            print(f"PASS   {name}")
        else:
            failed += 1
            print(f"FAIL   {name}\n  redis-server: {str(want)[:600]}\n  tierkv:       {str(got)[:600]}")
    print(f"{len(runs) - failed} of {len(runs)} scenarios gave the same replies")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
