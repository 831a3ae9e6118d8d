"""NATS 2.9 evaluation: (i) is a QoS-1 PUBACK durable in the R3 stream, (ii) per-tag
order across partitions, (iii) throughput MQTT in -> JetStream pull consumers out."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path

import nats
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StreamConfig

from bench.engines.clusters import NatsCluster, fresh
from bench.loadgen import LoadGenerator

P = 8


class TrackingGen(LoadGenerator):
    """Remembers which mids were PUBACKed (the base class only counts them)."""

    def __init__(self, port: int, client_id: str, window: int = 1000) -> None:
        self.acked_mids: list[int] = []
        super().__init__(port, client_id, window)

    def _read_acks(self) -> None:
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            n = len(buf) // 4
            for k in range(n):
                self.acked_mids.append(int.from_bytes(buf[k * 4 + 2 : k * 4 + 4], "big"))
                self.window.release()
            self.acked += n
            buf = buf[n * 4 :]


def messages(n: int, tags: int = 200):
    for i in range(n):
        tag = f"T{i % tags:05d}"
        yield (
            f"tags/{tag}/fix",
            json.dumps(
                {"ts": 1.7e9 + i, "lat": 30.0, "lon": 120.0, "seq": i // tags, "i": i}
            ).encode(),
        )


async def setup(url: str) -> None:
    nc = await nats.connect(url.split(","))
    js = nc.jetstream()
    for _ in range(60):  # the JetStream meta leader is elected a few seconds after start
        try:
            await js.add_stream(
                StreamConfig(
                    name="INGEST",
                    subjects=["ingest.>"],
                    num_replicas=3,
                    retention=RetentionPolicy.INTEREST,
                )
            )
            break
        except Exception as exc:
            print("retry:", repr(exc), file=sys.stderr)
            await asyncio.sleep(0.5)
    for p in range(P):
        for _ in range(40):
            try:
                await js.add_consumer(
                    "INGEST",
                    ConsumerConfig(
                        durable_name=f"p{p}",
                        filter_subject=f"ingest.{p}.>",
                        ack_policy=AckPolicy.ALL,
                        max_ack_pending=20000,
                        ack_wait=30,
                    ),
                    timeout=2,
                )
                break
            except Exception:
                await asyncio.sleep(0.5)
    await nc.close()


async def leader(url: str) -> str:
    nc = await nats.connect(url.split(","))
    info = await nc.jetstream().stream_info("INGEST")
    await nc.close()
    return info.cluster.leader


async def drain(url: str, expect: int, consumers: int = 3, timeout: float = 30) -> dict:
    """`consumers` connections split the partitions; each fetches in batches, acks the
    last of a batch (AckAll). Returns the payload indexes per tag, in arrival order."""
    per_tag: dict[str, list[int]] = {}
    got = 0
    t0 = time.perf_counter()
    done = asyncio.Event()

    async def consume(parts: list[int]) -> None:
        nonlocal got
        nc = await nats.connect(url.split(","))
        js = nc.jetstream()
        subs = [await js.pull_subscribe_bind(f"p{p}", "INGEST") for p in parts]
        while not done.is_set():
            for sub in subs:
                try:
                    batch = await sub.fetch(1000, timeout=0.2)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                for m in batch:
                    d = json.loads(m.data)
                    per_tag.setdefault(m.subject.split(".")[3], []).append(d["i"])
                got += len(batch)
                await batch[-1].ack_sync()
                if got >= expect:
                    done.set()
            if time.perf_counter() - t0 > timeout:
                done.set()
        await nc.close()

    split = [list(range(P))[k::consumers] for k in range(consumers)]
    await asyncio.gather(*(consume(s) for s in split))
    return {"got": got, "s": time.perf_counter() - t0, "per_tag": per_tag}


async def stream_messages(url: str) -> int:
    nc = await nats.connect(url.split(","))
    info = await nc.jetstream().stream_info("INGEST")
    await nc.close()
    return info.state.messages


def in_order(per_tag: dict[str, list[int]]) -> bool:
    return all(v == sorted(v) for v in per_tag.values())


def durability(root: Path, kill_publishers_node: bool) -> dict:
    c = NatsCluster(fresh(root), P)
    c.start()
    try:
        asyncio.run(setup(c.url))
        lead = asyncio.run(leader(c.url))
        li = int(lead[1:])
        pub_node = li if kill_publishers_node else (li + 1) % 3
        n = 60000
        gen = TrackingGen(c.mqtt[pub_node], "eval-pub", window=2000)
        msgs = list(messages(n))

        def pump():
            try:
                for t, p in msgs:
                    gen.send(t, p)
            except OSError:
                pass

        th = threading.Thread(target=pump, daemon=True)
        th.start()
        time.sleep(0.8)
        c.kill(li)  # the stream leader, SIGKILL, mid-stream
        th.join(5)
        acked = set(gen.acked_mids)
        sent = gen.sent
        time.sleep(6)  # a new leader
        rest = [c.url.split(",")[k] for k in range(3) if k != li]
        res = asyncio.run(drain(",".join(rest), expect=10**9, consumers=1, timeout=15))
        left = asyncio.run(stream_messages(",".join(rest)))
        stored = {i for v in res["per_tag"].values() for i in v}
        acked_idx = {i for i in range(min(sent, 65535)) if (i % 65535 + 1) in acked}
        lost = sorted(acked_idx - stored)
        return {
            "publisher_on_leader": kill_publishers_node,
            "sent": sent,
            "acked": len(acked_idx),
            "stored": len(stored),
            "acked_but_lost": len(lost),
            "lost_sample": lost[:5],
            "left_in_stream_after_drain": left,
        }
    finally:
        c.stop()


def publish_parallel(ports: list[int], msgs: list, conns: int) -> float:
    """`conns` MQTT connections spread over the nodes, each a device group (a tag's
    fixes always on one connection, as a device would), all sending at once."""
    gens = [LoadGenerator(ports[k % len(ports)], f"eval-pub-{k}", window=200) for k in range(conns)]
    share: list[list] = [[] for _ in range(conns)]
    for t, p in msgs:
        share[hash(t) % conns].append((t, p))
    t0 = time.perf_counter()

    def pump(k: int) -> None:
        for t, p in share[k]:
            gens[k].send(t, p)
        gens[k].drain(60)

    threads = [threading.Thread(target=pump, args=(k,)) for k in range(conns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t0


def throughput(root: Path, n: int = 100000, conns: int = 30) -> dict:
    c = NatsCluster(fresh(root), P)
    c.start()
    try:
        asyncio.run(setup(c.url))
        msgs = list(messages(n, tags=1000))
        pub_s = publish_parallel(c.mqtt, msgs, conns)
        res = asyncio.run(drain(c.url, n, consumers=3))
        return {
            "n": n,
            "conns": conns,
            "mqtt_in_per_s": round(n / pub_s),
            "pull_out_per_s": round(res["got"] / res["s"]),
            "got": res["got"],
            "per_tag_in_order": in_order(res["per_tag"]),
            "tags": len(res["per_tag"]),
        }
    finally:
        c.stop()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    root = Path("/tmp/eng_eval/nats")
    what = sys.argv[1]
    if what == "durability":
        print(json.dumps(durability(root, sys.argv[2] == "leader")))
    else:
        print(json.dumps(throughput(root, int(sys.argv[2]), int(sys.argv[3]))))
