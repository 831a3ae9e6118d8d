"""InfluxDB write path: points/s the service's writer (store/influx.py: SQLite spool ->
influxdb-client SYNCHRONOUS writes -> delete) achieves, against raw line-protocol
POSTs of the same points to the same InfluxDB in the same run.

    python bench/influx_write.py --points 200000 --reps 3 [--json bench/results/influx_write.json]

The engine is Debian's influxd 1.6.7 (started here on free ports). It has no
/api/v2/write, so the writer goes through the test-only adapter
(tests/influx_v2_write_adapter.py); the raw baseline is measured both through the
same adapter (same path: the fair ratio) and straight to /write (the engine's
ceiling). Each measurement writes into a fresh database. Also measured: building
the line protocol by hand (store/lineproto.py) vs influxdb_client's Point."""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from smartcity_iot.config import Settings  # noqa: E402
from smartcity_iot.counters import Counters  # noqa: E402
from smartcity_iot.model import Fix  # noqa: E402
from smartcity_iot.store import influx, lineproto  # noqa: E402
from smartcity_iot.store.sqlite import connect  # noqa: E402
from tests.influx_v2_write_adapter import InfluxV2WriteAdapter  # noqa: E402
from tests.influxd import Influxd  # noqa: E402

BATCH = 5000
T0_MS = 1_795_000_000_000


def make_fixes(n: int, tags: int = 1000) -> list[Fix]:
    """n fixes of `tags` tags, 1 s apart per tag, like a city fleet."""
    return [
        Fix(
            f"QZT-{i % tags:06d}",
            (T0_MS + (i // tags) * 1000 + i % tags) / 1000,
            28.95 + (i % 997) * 1e-5,
            118.86 + (i % 991) * 1e-5,
            acc=5.0 + i % 20,
            batt=float(100 - i % 80),
            seq=i // tags,
        )
        for i in range(n)
    ]


def raw_posts(port: int, path: str, db_param: str, db: str, lines: list[str]) -> float:
    """Batches of BATCH lines over one keep-alive connection; returns points/s."""
    bodies = ["\n".join(lines[i : i + BATCH]).encode() for i in range(0, len(lines), BATCH)]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    target = path + "?" + urllib.parse.urlencode({db_param: db, "precision": "ms"})
    start = time.perf_counter()
    for body in bodies:
        conn.request(
            "POST", target, body=body, headers={"Content-Type": "text/plain; charset=utf-8"}
        )
        resp = conn.getresponse()
        resp.read()
        if resp.status >= 300:
            raise RuntimeError(f"raw write failed: {resp.status}")
    elapsed = time.perf_counter() - start
    conn.close()
    return len(lines) / elapsed


def service_writer(work: Path, url: str, db: str, lines: list[str]) -> float:
    """Spool the points (untimed: that is the pipeline's cost), then time the writer
    draining them."""
    settings = Settings(
        data_dir=work,
        influx_url=url,
        influx_bucket=db,
        influx_org="bench",
        influx_token="t",
        influx_batch_points=BATCH,
    )
    conn = connect(settings.db_path)
    conn.execute("BEGIN IMMEDIATE")
    influx.spool(conn, lines)
    conn.execute("COMMIT")
    writer = influx.InfluxWriter(settings, settings.db_path, Counters())
    start = time.perf_counter()
    while writer.drain_once():
        pass
    elapsed = time.perf_counter() - start
    writer.client.close()
    assert influx.spooled(conn) == 0
    return len(lines) / elapsed


def count(engine: Influxd, db: str) -> int:
    series = engine.query('SELECT count("lat") FROM "tag_fix"', db)
    return int(series[0]["values"][0][1]) if series else 0


def format_rates(fixes: list[Fix]) -> tuple[float, float]:
    from influxdb_client import Point, WritePrecision

    sample = fixes[:50_000]
    start = time.perf_counter()
    for f in sample:
        lineproto.fix_line(f)
    ours = len(sample) / (time.perf_counter() - start)
    start = time.perf_counter()
    for f in sample:
        (
            Point("tag_fix")
            .tag("device_id", f.tag_id)
            .field("lat", f.lat)
            .field("lon", f.lon)
            .field("acc", f.acc)
            .field("batt", f.batt)
            .field("seq", f.seq)
            .field("late", False)
            .field("source", f.source)
            .time(f.ts_ms, WritePrecision.MS)
            .to_line_protocol()
        )
    point = len(sample) / (time.perf_counter() - start)
    return ours, point


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    fixes = make_fixes(args.points)
    lines = [lineproto.fix_line(f) for f in fixes]
    runs: dict[str, list[float]] = {"raw_direct": [], "raw_adapter": [], "service": []}
    with tempfile.TemporaryDirectory(prefix="bench-influx-") as tmp:
        engine = Influxd(Path(tmp) / "influxd")
        engine.start()
        adapter = InfluxV2WriteAdapter(engine.port)
        adapter.start()
        try:
            for rep in range(args.reps):
                for case in runs:  # interleaved, so drift on a shared machine hits every case alike
                    db = f"{case}_{rep}"
                    engine.create_db(db)
                    if case == "raw_direct":
                        rate = raw_posts(engine.port, "/write", "db", db, lines)
                    elif case == "raw_adapter":
                        rate = raw_posts(adapter.port, "/api/v2/write", "bucket", db, lines)
                    else:
                        rate = service_writer(Path(tmp) / f"svc{rep}", adapter.url, db, lines)
                    assert count(engine, db) == args.points, f"{case}: points missing"
                    runs[case].append(rate)
                    print(f"rep {rep} {case:<12} {rate:>10,.0f} points/s", file=sys.stderr)
        finally:
            adapter.stop()
            engine.stop()
    ours, point = format_rates(fixes)
    med = {k: statistics.median(v) for k, v in runs.items()}
    results = {
        "machine": f"{platform.node()} {platform.machine()}, python {platform.python_version()}",
        "engine": "influxd 1.6.7 (Debian), v2 writes through tests/influx_v2_write_adapter.py",
        "points": args.points,
        "batch": BATCH,
        "reps": args.reps,
        "points_per_s": {k: [round(x) for x in v] for k, v in runs.items()},
        "median_points_per_s": {k: round(v) for k, v in med.items()},
        "ratio_service_vs_raw_same_path": round(med["service"] / med["raw_adapter"], 3),
        "ratio_service_vs_raw_direct": round(med["service"] / med["raw_direct"], 3),
        "line_format_per_s": {
            "lineproto.fix_line": round(ours),
            "influxdb_client.Point": round(point),
        },
    }
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
