"""Benchmark of the dog-tag path on a real Mosquitto, all figures from one run.

1. Throughput, drain mode: N fixes are queued on the broker for an offline
   persistent session, then the consumer connects; time from connect to the
   last message processed. Consumers: a bare paho subscriber that only
   json-decodes and acks (the ceiling), and the whole service (decode, filter,
   zones, incidents, SQLite commit, ack). Same broker, protocol, QoS, payloads.
2. Zone checks/s: the service's vectorised STRtree classification against a
   naive per-point loop over every zone.
3. Alert latency: with the service live and fed at half the ceiling rate,
   fix published -> alert received on alerts/#, p50 and p99.

Run: python bench/tags_pipeline.py [--fixes 60000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import shapely
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.loadgen import LoadGenerator, latency_parts  # noqa: E402
from smartcity_iot.config import Settings  # noqa: E402
from smartcity_iot.geo.index import ZoneIndex  # noqa: E402
from smartcity_iot.geo.zones import load_zones  # noqa: E402
from smartcity_iot.runtime import settle_heap  # noqa: E402
from smartcity_iot.service import Service  # noqa: E402
from smartcity_iot.store.registry import register_active_tag  # noqa: E402
from smartcity_iot.store.sqlite import connect  # noqa: E402
from tests.support import Mosquitto, wait_until  # noqa: E402

N_TAGS = 500
N_TRIGGERS = 400  # tags that only ever prove a dwell in the latency run, 0.25 s apart
GEOFENCES = REPO / "geofences"


def make_fixes(n: int, t0: float, seed: int = 1, tags: int = N_TAGS) -> list[tuple[str, bytes]]:
    """Tags wandering across the sample district, a fix every 10 s each (of fix time),
    spread evenly over the 10 s: sent at tags/10 a second, fix time keeps pace with
    the wall clock."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(118.858, 118.882, tags)
    lat = rng.uniform(28.957, 28.983, tags)
    out = []
    for i in range(n):
        k = i % tags
        lon[k] += rng.normal(0, 0.00008)
        lat[k] += rng.normal(0, 0.00008)
        doc = {
            "ts": round(t0 + (i // tags) * 10 + k * 10 / tags, 3),
            "lat": round(float(lat[k]), 7),
            "lon": round(float(lon[k]), 7),
            "acc": round(float(rng.uniform(4, 25)), 1),
            "batt": 80,
            "seq": i // tags,
        }
        out.append((f"tags/BENCH-{k:05d}/fix", json.dumps(doc).encode()))
    return out


def bare_client(client_id: str, on_message: Callable[..., None]) -> tuple[mqtt.Client, Properties]:
    """The baseline subscriber (this bench's and bench/live.py's): paho v5, manual acks,
    with the CONNECT properties of its persistent session."""
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    c.on_message = on_message
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 2000
    return c, props


def bare_subscriber_drain(port: int, msgs: list[tuple[str, bytes]]) -> float:
    """Ceiling: paho v5, QoS 1, persistent session, manual ack after json.loads."""
    n = len(msgs)
    done = threading.Event()
    state = {"count": 0}

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        json.loads(m.payload)
        c.ack(m.mid, m.qos)
        state["count"] += 1
        if state["count"] >= n:
            done.set()

    sub, props = bare_client("bench-bare", on_message)
    subscribed = threading.Event()
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect("127.0.0.1", port, clean_start=True, properties=props)
    sub.subscribe("tags/+/fix", qos=1)
    sub.loop_start()
    subscribed.wait(10)
    sub.loop_stop()
    sub.disconnect()
    _load(port, msgs)
    sub, _ = bare_client("bench-bare", on_message)
    began = time.perf_counter()
    sub.connect("127.0.0.1", port, clean_start=False, properties=props)
    sub.loop_start()
    if not done.wait(600):
        raise RuntimeError(f"bare subscriber got {state['count']} of {n}")
    elapsed = time.perf_counter() - began
    sub.loop_stop()
    sub.disconnect()
    return n / elapsed


PIPELINE_PROCESS = [False]  # --pipeline-process
LISTENER_HERE = [False]  # --listener-here
NO_SETTLE = [False]  # --no-settle-heap


def service_settings(broker: Mosquitto, data: Path) -> Settings:
    return Settings(
        mqtt_url=broker.url,
        data_dir=data,
        geofences=GEOFENCES,
        mqtt_client_id="bench-service",
        offline_after_s=1e9,
        pipeline_process=PIPELINE_PROCESS[0],
    )


def register_all(settings: Settings, tags: int = N_TAGS) -> None:
    """The wandering tags BENCH-00000... and the latency run's BENCH-T0000..."""
    conn = connect(settings.db_path)
    conn.execute("PRAGMA synchronous = OFF")  # set-up only: one fsync per tag takes minutes
    ids = [f"BENCH-{k:05d}" for k in range(tags)] + [f"BENCH-T{k:04d}" for k in range(N_TRIGGERS)]
    for k, tag_id in enumerate(ids):
        register_active_tag(conn, tag_id, f"dog{k}", f"owner{k}", f"13{k:09d}")
    conn.close()


def service_drain(broker: Mosquitto, data: Path, msgs: list[tuple[str, bytes]]) -> float:
    settings = service_settings(broker, data)
    register_all(settings)
    svc = Service(settings)
    svc.start()
    assert svc.wait_connected(10)
    svc.stop()
    _load(broker.port, msgs)
    svc = Service(settings)
    began = time.perf_counter()
    svc.start()
    n = len(msgs)
    ok = wait_until(lambda: svc.counters.get("accepted") >= n, 900, 0.01)
    elapsed = time.perf_counter() - began
    svc.stop()
    stored = connect(settings.db_path).execute("SELECT COUNT(*) FROM fixes").fetchone()[0]
    if not ok or stored != n:
        raise RuntimeError(
            f"service accepted {svc.counters.get('accepted')} and stored {stored} of {n}"
        )
    return n / elapsed


def zone_checks(n_vec: int = 200_000, n_naive: int = 5_000) -> dict[str, float]:
    settings = Settings(geofences=GEOFENCES)
    zones = [z for z in load_zones(GEOFENCES, settings.tz) if z.rule == "dogs"]
    index = ZoneIndex(zones)
    rng = np.random.default_rng(2)
    lon = rng.uniform(118.855, 118.885, n_vec)
    lat = rng.uniform(28.955, 28.985, n_vec)
    r = rng.uniform(4, 30, n_vec)
    began = time.perf_counter()
    index.classify(lon, lat, r)
    vec = n_vec / (time.perf_counter() - began)
    polys, bounds = list(index.polygons), list(index.boundaries)
    x, y = index.projection.to_xy(lon[:n_naive], lat[:n_naive])
    began = time.perf_counter()
    for i in range(n_naive):
        p = shapely.Point(float(x[i]), float(y[i]))
        for poly, edge in zip(polys, bounds, strict=True):
            poly.contains(p)
            edge.distance(p)
    naive = n_naive / (time.perf_counter() - began)
    return {"vectorised_per_s": vec, "naive_per_s": naive, "zones": len(zones)}


def alert_latency(
    broker: Mosquitto, data: Path, rate: float, seconds: float = 60.0, tags: int = N_TAGS
) -> dict[str, float]:
    """Background fixes at `rate` msgs/s from `tags` wandering tags, sent from a separate
    process (as devices would be); every 0.25 s a tag of its own completes a 2 s dwell
    inside a school. Latency = the dwell-proving fix sent -> its alert received on
    alerts/# by a listener in a third process (an operator's screen)."""
    import multiprocessing

    from bench.loadgen import fleet_latency_load, listen_alerts

    settings = service_settings(broker, data)
    register_all(settings, tags)
    zones = {z.id: z for z in load_zones(GEOFENCES, settings.tz) if z.rule == "dogs"}
    school = next(z for z in zones.values() if z.schedule.never_allowed and z.schedule.days is None)
    inside = school.geometry.representative_point()
    # Each tag reports every 10 s of fix time: at 10 x rate tags fix time keeps pace
    # with the clock; fewer tags run it faster, so the stream starts in the past and
    # ends at the present (never a fix from the future, which would be rejected).
    n = int(rate * (seconds + 5))
    span = (n // tags) * 10
    fleet = (n, time.time() - max(0.0, span - (seconds + 5)), 5, tags)
    # Tags of their own, with no background fixes: their first open alert is the dwell's.
    # (The wandering tags raise alerts of their own, which would be taken for it.)
    triggers = [f"BENCH-T{k:04d}" for k in range(min(N_TRIGGERS, int(seconds / 0.25)))]
    ctx = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ctx.Pool(1) as pool:
        svc = Service(settings.model_copy(update={"dwell_s": 2.0}))
        svc.start()
        assert svc.wait_connected(10)
        if not NO_SETTLE[0]:
            settle_heap()  # as `serve` does once started
        received: dict[str, float] = {}
        if LISTENER_HERE[0]:
            lis = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            ready = threading.Event()

            def on_alert(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
                doc = json.loads(m.payload)
                if doc["status"] == "open":
                    received.setdefault(doc["device_id"], time.time())

            lis.on_message = on_alert
            lis.on_subscribe = lambda *a: ready.set()
            lis.connect("127.0.0.1", broker.port)
            lis.subscribe("alerts/#", qos=1)
            lis.loop_start()
            ready.wait(10)
        else:  # the operators' screen in its own process, as it is in the city
            ready_q, expect_q, out_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
            screen = ctx.Process(target=listen_alerts, args=(broker.port, ready_q, expect_q, out_q))
            screen.start()
            ready_q.get(timeout=20)
        sent = pool.apply(
            fleet_latency_load,
            (broker.port, rate, seconds, fleet, triggers, (inside.x, inside.y)),
        )
        published = int(sent.pop("_published"))
        if LISTENER_HERE[0]:
            wait_until(lambda: all(t in received for t in sent), 30)
            lis.loop_stop()
        else:
            expect_q.put(list(sent))
            received = out_q.get(timeout=60)
            screen.join(10)
        svc.stop()
    lat_ms = sorted((received[t] - sent[t]) * 1000 for t in sent if t in received)
    db = connect(settings.db_path)
    parts = latency_parts(db, sent, received, proving_seq=100_002)
    alerts = db.execute("SELECT COUNT(DISTINCT id) FROM alerts").fetchone()[0]
    return {
        **parts,
        "alerts_raised": alerts,  # the wandering tags' own and the dwells'
        "p50_ms": statistics.median(lat_ms),
        "p99_ms": lat_ms[min(len(lat_ms) - 1, int(len(lat_ms) * 0.99))],
        "samples": len(lat_ms),
        "lost": len(sent) - len(lat_ms),
        "rate": rate,
        "published": published,
    }


def _load(port: int, msgs: list[tuple[str, bytes]]) -> None:
    gen = LoadGenerator(port, f"bench-load-{time.time_ns()}")
    for topic, payload in msgs:
        gen.send(topic, payload)
    if not gen.drain(300):
        raise RuntimeError(f"broker acknowledged {gen.acked} of {gen.sent}")
    gen.close()


def throughput(work: Path, n: int) -> dict[str, object]:
    """Drain-mode throughput of the bare subscriber and the service, and zone checks."""
    msgs = make_fixes(n, time.time() - 86400)
    print(f"bare subscriber drain of {len(msgs):,} fixes ...", file=sys.stderr)
    b = Mosquitto(work / "m1")
    b.start()
    ceiling = bare_subscriber_drain(b.port, msgs)
    b.stop()
    print(f"  {ceiling:,.0f} msg/s\nservice drain ...", file=sys.stderr)
    b = Mosquitto(work / "m2")
    b.start()
    whole = service_drain(b, work / "svc", msgs)
    b.stop()
    print(f"  {whole:,.0f} msg/s\nzone checks ...", file=sys.stderr)
    zc = zone_checks()
    print(f"  {zc}", file=sys.stderr)
    return {
        "fixes": len(msgs),
        "ceiling_msg_s": round(ceiling),
        "service_msg_s": round(whole),
        "service_vs_ceiling": round(whole / ceiling, 3),
        "zone_checks": {k: round(v) for k, v in zc.items()},
        "vectorised_vs_naive": round(zc["vectorised_per_s"] / zc["naive_per_s"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fixes", type=int, default=60_000, help="messages per throughput run")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--latency-rate", type=float, help="msgs/s for the latency run (default: half the ceiling)"
    )
    parser.add_argument(
        "--latency-s",
        type=float,
        default=60.0,
        help="seconds of load in the latency run; a dwell proved every 0.25 s (60 s: 236)",
    )
    parser.add_argument(
        "--latency-tags",
        type=int,
        default=N_TAGS,
        help="wandering tags behind the latency run's load (10 x the rate: fix time keeps "
        "pace with the clock, as in a city; default: the throughput runs' fleet)",
    )
    parser.add_argument(
        "--only-latency",
        action="store_true",
        help="skip the throughput runs (needs --latency-rate)",
    )
    parser.add_argument(
        "--pipeline-process", action="store_true", help="the service's tag pipeline in a child"
    )
    parser.add_argument(
        "--no-settle-heap",
        action="store_true",
        help="skip serve's settle_heap() (gc.freeze) once started, for an A/B",
    )
    parser.add_argument(
        "--listener-here",
        action="store_true",
        help="the alert listener in the service's process (the measure before 2026-12-02)",
    )
    args = parser.parse_args()
    PIPELINE_PROCESS[0] = args.pipeline_process
    LISTENER_HERE[0] = args.listener_here
    NO_SETTLE[0] = args.no_settle_heap
    results: dict[str, object] = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}"
    }
    if args.only_latency and not args.latency_rate:
        parser.error("--only-latency needs --latency-rate")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.only_latency:
            results.update(throughput(work, args.fixes))
            ceiling = float(results["ceiling_msg_s"])  # type: ignore[arg-type]
        rate = args.latency_rate or ceiling / 2
        print(f"alert latency at {rate:,.0f} msg/s ...", file=sys.stderr)
        b = Mosquitto(work / "m3")
        b.start()
        lat = alert_latency(b, work / "lat", rate, args.latency_s, args.latency_tags)
        b.stop()
    results["alert_latency"] = {
        k: round(v, 1) if isinstance(v, float) else v for k, v in lat.items()
    }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
