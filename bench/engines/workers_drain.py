"""End to end through the engine: a backlog of fixes in the partition queues, then K
in-process workers (the real Service with --engine-url) drain it into one SQLite
store. Prints the backlog's spread over the partitions and the drain rate."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import pika

from bench.loadgen import LoadGenerator
from smartcity_iot.config import Settings
from smartcity_iot.ingest.partitioned import partition_queue
from smartcity_iot.service import Service
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect
from tests.cluster import RabbitCluster
from tests.support import TEST_ZONES, fix_payload, wait_until

P = 16


def settings(c: RabbitCluster, data: Path, worker: str) -> Settings:
    return Settings(
        engine_url=c.url,
        engine_partitions=P,
        worker_id=worker,
        lease_ttl_s=2.0,
        mqtt_url=f"mqtt://127.0.0.1:{c.mqtt[2]}",
        mqtt_protocol="3.1.1",
        data_dir=data,
        geofences=TEST_ZONES,
    )


def main(n: int, tags: int, workers: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="engine-drain-"))
    c = RabbitCluster(root / "rabbitmq")
    c.start()
    try:
        data = root / "data"
        first = Service(settings(c, data, "declare"))  # declares the topology, then leaves
        first.start()
        assert first.wait_connected(20)
        first.stop()
        db = connect(first.settings.db_path)
        for k in range(tags):
            register_active_tag(db, f"T-{k:05d}", f"dog{k}", f"owner{k}", f"139{k:08d}")
        gen = LoadGenerator(c.mqtt[1], "drain-pub", window=500)
        t0 = time.time() - 86400
        for i in range(n):
            k = i % tags
            gen.send(f"tags/T-{k:05d}/fix", fix_payload(t0 + i, 28.96, 118.875, seq=i // tags))
        gen.close()
        ch = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", c.amqp[0])).channel()
        depth = [
            ch.queue_declare(partition_queue(p), passive=True).method.message_count
            for p in range(P)
        ]
        assert wait_until(
            lambda: (
                sum(
                    ch.queue_declare(partition_queue(p), passive=True).method.message_count
                    for p in range(P)
                )
                >= n
            ),
            20,
        )
        svcs = [Service(settings(c, data, f"w{k}")) for k in range(workers)]
        began = time.perf_counter()
        for s in svcs:
            s.start()
        stored = lambda: db.execute("SELECT COUNT(*) FROM fixes").fetchone()[0]  # noqa: E731
        wait_until(lambda: stored() >= n, 60, interval=0.1)
        took = time.perf_counter() - began
        got = stored()
        for s in svcs:
            s.stop()
        return {
            "workers": workers,
            "fixes": n,
            "tags": tags,
            "stored": got,
            "seconds_from_start": round(took, 1),
            "fixes_per_s": round(got / took),
            "partition_depth_min_max": [min(depth), max(depth)],
        }
    finally:
        c.stop()


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
