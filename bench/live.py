"""One worker at its best, live: the consumer is connected and the publishers run on
the same machine at the same time (as a 2-core box shares them), 40 tags x 500 fixes
over Mosquitto at QoS 1 from a raw-socket publisher in its own process.

Baseline: a bare paho subscriber of the same protocol (MQTT v5, QoS 1, manual ack
after json.loads). Ours: the whole service (decode, filter, registry, zones,
incidents, SQLite commit, ack after commit). The clock runs from the first publish to
the last fix processed. Sides alternate (A B A B ...) so both share the machine's
mood; the ratio of the medians is the figure.

Run: python bench/live.py [--rounds 3] [--tags 40] [--per-tag 500] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import tags_pipeline  # noqa: E402
from bench.loadgen import LoadGenerator  # noqa: E402
from bench.tags_pipeline import make_fixes, register_all, service_settings  # noqa: E402
from smartcity_iot.service import Service  # noqa: E402
from smartcity_iot.store.sqlite import connect  # noqa: E402
from tests.support import Mosquitto, wait_until  # noqa: E402


def publish(port: int, msgs: list[tuple[str, bytes]]) -> float:
    """In its own process: every fix, as fast as the broker acknowledges; returns when
    the first was sent (wall clock)."""
    gen = LoadGenerator(port, f"live-load-{time.time_ns()}")
    began = time.time()
    for topic, payload in msgs:
        gen.send(topic, payload)
    if not gen.drain(300):
        raise RuntimeError(f"broker acknowledged {gen.acked} of {gen.sent}")
    gen.close()
    return began


def publish_sim(port: int, msgs: list[tuple[str, bytes]]) -> float:
    """The tag simulator's own paho publisher (firmware_sim/publisher.py, MQTT v5,
    unpaced): the CPU a real simulator run costs the machine."""
    from firmware_sim.publisher import publish_stream

    began = time.time()
    stats = publish_stream(
        [(0.0, t, p) for t, p in msgs], f"mqtt://127.0.0.1:{port}", client_id="live-sim"
    )
    if stats["acked"] != len(msgs):
        raise RuntimeError(f"simulator publisher: {stats}")
    return began


PUBLISHERS = {"raw": publish, "sim": publish_sim}


def bare_live(
    pool: multiprocessing.pool.Pool, port: int, msgs: list[tuple[str, bytes]], publisher: str
) -> float:
    n = len(msgs)
    done = threading.Event()
    count = [0]
    last = [0.0]

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        json.loads(m.payload)
        c.ack(m.mid, m.qos)
        count[0] += 1
        if count[0] >= n:
            last[0] = time.time()
            done.set()

    sub, props = tags_pipeline.bare_client("live-bare", on_message)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", port, clean_start=True, properties=props)
    sub.subscribe("tags/+/fix", qos=1)
    sub.loop_start()
    subscribed.wait(10)
    began = pool.apply(PUBLISHERS[publisher], (port, msgs))
    if not done.wait(600):
        raise RuntimeError(f"bare subscriber got {count[0]} of {n}")
    sub.loop_stop()
    sub.disconnect()
    return n / (last[0] - began)


def service_live(
    pool: multiprocessing.pool.Pool,
    broker: Mosquitto,
    data: Path,
    msgs: list[tuple[str, bytes]],
    publisher: str,
) -> float:
    settings = service_settings(broker, data)
    register_all(settings)
    svc = Service(settings)
    svc.start()
    assert svc.wait_connected(10)
    n = len(msgs)
    began = pool.apply(PUBLISHERS[publisher], (broker.port, msgs))
    ok = wait_until(lambda: svc.counters.get("accepted") >= n, 900, 0.01)
    ended = time.time()
    svc.stop()
    stored = connect(settings.db_path).execute("SELECT COUNT(*) FROM fixes").fetchone()[0]
    if not ok or stored != n:
        raise RuntimeError(
            f"service accepted {svc.counters.get('accepted')}, stored {stored} of {n}"
        )
    return n / (ended - began)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="A/B pairs (default 3)")
    parser.add_argument("--tags", type=int, default=40)
    parser.add_argument("--per-tag", type=int, default=500)
    parser.add_argument(
        "--publisher",
        choices=sorted(PUBLISHERS),
        default="raw",
        help="raw: a raw-socket publisher (costs a few us a fix); sim: the tag simulator's "
        "paho publisher (what a simulator run costs the machine)",
    )
    parser.add_argument("--only", choices=["bare", "service"], help="one side (for profiling)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--pipeline-process", action="store_true", help="the service's tag pipeline in a child"
    )
    args = parser.parse_args()
    tags_pipeline.PIPELINE_PROCESS[0] = args.pipeline_process
    msgs = make_fixes(args.tags * args.per_tag, time.time() - 86400, tags=args.tags)
    rates: dict[str, list[float]] = {"bare": [], "service": []}
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp, ctx.Pool(1) as pool:
        work = Path(tmp)
        for r in range(args.rounds):
            for side in ("bare", "service"):
                if args.only and side != args.only:
                    continue
                broker = Mosquitto(work / f"{side}{r}")
                broker.start()
                try:
                    if side == "bare":
                        rate = bare_live(pool, broker.port, msgs, args.publisher)
                    else:
                        rate = service_live(pool, broker, work / f"svc{r}", msgs, args.publisher)
                finally:
                    broker.stop()
                rates[side].append(rate)
                print(f"round {r + 1} {side}: {rate:,.0f} fixes/s", file=sys.stderr)
    result: dict[str, object] = {
        "fixes": len(msgs),
        "tags": args.tags,
        "publisher": args.publisher,
        "pipeline_process": args.pipeline_process,
        "bare_fixes_s": [round(x) for x in rates["bare"]],
        "service_fixes_s": [round(x) for x in rates["service"]],
    }
    if rates["bare"] and rates["service"]:
        result["service_vs_bare"] = round(
            statistics.median(rates["service"]) / statistics.median(rates["bare"]), 3
        )
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
