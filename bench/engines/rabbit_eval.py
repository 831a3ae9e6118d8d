"""RabbitMQ 3.10 evaluation, the same three questions as nats_eval.py: amq.topic ->
x-consistent-hash exchange -> 8 quorum queues with single active consumer."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pika

from bench.engines.clusters import RabbitCluster, fresh
from bench.engines.nats_eval import TrackingGen, in_order, messages, publish_parallel

P = 8


def setup(port: int) -> None:
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    ch = conn.channel()
    ch.exchange_declare("ingest", "x-consistent-hash", durable=True)
    ch.exchange_bind("ingest", "amq.topic", routing_key="tags.*.fix")
    for p in range(P):
        q = f"ingest.p{p}"
        ch.queue_declare(
            q, durable=True, arguments={"x-queue-type": "quorum", "x-single-active-consumer": True}
        )
        ch.queue_bind(q, "ingest", routing_key="1")
    conn.close()


def drain(ports: list[int], expect: int, consumers: int = 3, timeout: float = 30) -> dict:
    per_tag: dict[str, list[int]] = {}
    got = [0]
    t0 = time.perf_counter()
    lock = threading.Lock()

    def consume(k: int) -> None:
        conn = pika.BlockingConnection(
            pika.ConnectionParameters("127.0.0.1", ports[k % len(ports)])
        )
        ch = conn.channel()
        ch.basic_qos(prefetch_count=1000)
        pending = []

        def on(ch, method, props, body):
            d = json.loads(body)
            with lock:
                per_tag.setdefault(method.routing_key.split(".")[1], []).append(d["i"])
                got[0] += 1
            pending.append(method.delivery_tag)
            if len(pending) >= 200:
                ch.basic_ack(pending[-1], multiple=True)
                pending.clear()

        for p in range(P)[k::consumers]:
            ch.basic_consume(f"ingest.p{p}", on)
        while got[0] < expect and time.perf_counter() - t0 < timeout:
            conn.process_data_events(time_limit=0.2)
            if pending:
                ch.basic_ack(pending[-1], multiple=True)
                pending.clear()
        conn.close()

    threads = [threading.Thread(target=consume, args=(k,)) for k in range(consumers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return {"got": got[0], "s": time.perf_counter() - t0, "per_tag": per_tag}


def durability(root: Path) -> dict:
    c = RabbitCluster(fresh(root))
    c.start()
    try:
        setup(c.amqp[0])
        # the queues' leaders (declared there): kill node 0 -9; the publisher is on node 1
        n = 60000
        gen = TrackingGen(c.mqtt[1], "eval-pub", window=2000)
        msgs = list(messages(n))

        def pump():
            try:
                for t, p in msgs:
                    gen.send(t, p)
            except OSError:
                pass

        th = threading.Thread(target=pump, daemon=True)
        th.start()
        time.sleep(1.5)
        c.kill(0)
        th.join(5)
        acked = set(gen.acked_mids)
        sent = gen.sent
        time.sleep(5)  # quorum queues elect new leaders on nodes 1 and 2
        res = drain([c.amqp[2]], expect=10**9, consumers=1, timeout=10)
        stored = {i for v in res["per_tag"].values() for i in v}
        acked_idx = {i for i in range(min(sent, 65535)) if (i % 65535 + 1) in acked}
        lost = sorted(acked_idx - stored)
        return {
            "sent": sent,
            "acked": len(acked_idx),
            "stored": len(stored),
            "acked_but_lost": len(lost),
            "lost_sample": lost[:5],
        }
    finally:
        c.stop()


def throughput(root: Path, n: int, conns: int) -> dict:
    c = RabbitCluster(fresh(root))
    c.start()
    try:
        setup(c.amqp[0])
        msgs = list(messages(n, tags=1000))
        pub_s = publish_parallel(c.mqtt, msgs, conns)
        res = drain(c.amqp, n, consumers=3)
        return {
            "n": n,
            "conns": conns,
            "mqtt_in_per_s": round(n / pub_s),
            "amqp_out_per_s": round(res["got"] / res["s"]),
            "got": res["got"],
            "per_tag_in_order": in_order(res["per_tag"]),
            "tags": len(res["per_tag"]),
        }
    finally:
        c.stop()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    root = Path("/tmp/eng_eval/rabbit")
    if sys.argv[1] == "durability":
        print(json.dumps(durability(root)))
    else:
        print(json.dumps(throughput(root, int(sys.argv[2]), int(sys.argv[3]))))
