"""Workers that share a RabbitMQ cluster's partitions (ingest/partitioned.py), on a
real three-node cluster: every fix stored once and in its tag's order, incidents
the same as one uninterrupted process, when a worker stops, is killed -9, or a
broker node dies mid-stream."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from smartcity_iot.config import Settings, env_name, parse_engine_url
from smartcity_iot.geo.zones import load_zones
from smartcity_iot.ingest.partitioned import Members, owner
from smartcity_iot.model import Inbound
from smartcity_iot.pipeline import TagPipeline
from smartcity_iot.service import Service
from smartcity_iot.store.registry import register_active_tag
from smartcity_iot.store.sqlite import connect

from ..cluster import RABBIT, RabbitCluster
from ..support import (
    TEST_ZONES,
    Mosquitto,
    client,
    fix_payload,
    free_port,
    publish_all,
    service_process,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    not (RABBIT / "rabbitmq-server").exists(),
    reason="rabbitmq-server (scripts/test.sh installs it)",
)

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH).timestamp()
SCHOOL = (28.971, 118.871)  # a dog-forbidden zone of tests/data/zones
HOME = (28.960, 118.875)
PARTITIONS = 8


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitCluster]:
    cluster = RabbitCluster(tmp_path_factory.mktemp("rabbitmq"))
    cluster.start()
    yield cluster
    cluster.stop()


def tags_of(prefix: str, n: int = 12) -> list[str]:
    # a prefix per test: a message a previous test left in the queues is an unknown tag here
    return [f"{prefix}-{k:04d}" for k in range(n)]


def stream(tags: list[str], minutes: int = 40) -> list[tuple[str, bytes]]:
    """Each tag alternates 5 min at home and 4 in the school, a fix every 5 s."""
    out = []
    for k, tag in enumerate(tags):
        for i in range(minutes * 60 // 5):
            where = SCHOOL if (i * 5) % 540 >= 300 else HOME
            out.append((f"tags/{tag}/fix", fix_payload(T0 + i * 5 + k, *where, seq=i)))
    out.sort(key=lambda m: m[1])  # interleaved by time, as devices send
    return out


def register(conn: sqlite3.Connection, tags: list[str]) -> None:
    for i, tag in enumerate(tags):
        register_active_tag(conn, tag, f"dog{i}", f"owner{i}", f"139{i:08d}")


def reference_alerts(tmp: Path, tags: list[str], msgs: list[tuple[str, bytes]]) -> set[tuple]:
    """The alerts one uninterrupted process makes of the same stream."""
    settings = Settings(data_dir=tmp, geofences=TEST_ZONES)
    conn = connect(settings.db_path)
    register(conn, tags)
    pipe = TagPipeline(settings, conn, load_zones(TEST_ZONES, SH))
    for i in range(0, len(msgs), 500):
        pipe.process([Inbound(t, p, 0) for t, p in msgs[i : i + 500]])
    return alerts(conn)


def alerts(conn: sqlite3.Connection) -> set[tuple]:
    return {(r[0], r[1], r[2]) for r in conn.execute("SELECT id, revision, status FROM alerts")}


def worker_settings(
    engine: RabbitCluster, data_dir: Path, worker: str, pipeline_process: bool = False
) -> Settings:
    return Settings(
        pipeline_process=pipeline_process,
        engine_url=engine.url,
        engine_partitions=PARTITIONS,
        worker_id=worker,
        lease_ttl_s=2.0,
        # alerts go out through the MQTT listener of the node no test stops
        mqtt_url=f"mqtt://127.0.0.1:{engine.mqtt[2]}",
        mqtt_protocol="3.1.1",
        mqtt_client_id="test-worker",
        data_dir=data_dir,
        geofences=TEST_ZONES,
        batch_max=200,
    )


def stored(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM fixes").fetchone()[0])


class Devices:
    """The tags' side: MQTT 3.1.1 QoS 1 to a node, in the background, every PUBACK awaited."""

    def __init__(self, port: int, msgs: list[tuple[str, bytes]]) -> None:
        self.client = client(port, v5=False)
        self.msgs = msgs
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            publish_all(self.client, self.msgs)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def start(self) -> Devices:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(90)
        self.client.loop_stop()
        self.client.disconnect()
        assert self.error is None and not self.thread.is_alive(), self.error


def claims(log: Path) -> list[float]:
    """When a worker's log says it started consuming a partition (epoch seconds)."""
    out = []
    for line in log.read_text().splitlines():
        if "consuming partition" in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            out.append(stamp.timestamp())
    return out


def assert_each_fix_once_in_order(conn: sqlite3.Connection, msgs: list[tuple[str, bytes]]):
    sent = Counter(t.split("/")[1] for t, _ in msgs)
    rows = conn.execute(
        "SELECT tag_id, COUNT(*), COUNT(DISTINCT seq), SUM(late) FROM fixes GROUP BY tag_id"
    )
    got = {tag: (n, distinct, late) for tag, n, distinct, late in rows}
    assert {t: n for t, (n, _, _) in got.items()} == dict(sent), "every fix stored, once"
    assert all(n == d for n, d, _ in got.values()), "no fix doubled"
    # a fix handled after a newer one of its tag would be stored as late
    assert sum(late for _, _, late in got.values()) == 0, "each tag's fixes in capture order"


def test_a_leaving_worker_moves_only_its_own_partitions() -> None:
    # given three workers over 64 partitions, when one leaves, then the partitions of
    # the other two stay where they are (rendezvous hashing), and the split stays even
    three = {p: owner(p, ["a", "b", "c"]) for p in range(64)}
    two = {p: owner(p, ["a", "b"]) for p in range(64)}
    assert all(two[p] == w for p, w in three.items() if w != "c")
    assert min(Counter(three.values()).values()) >= 12


def test_a_worker_not_heard_within_the_lease_is_gone() -> None:
    members = Members("me", ttl=2.0)
    members.announce("other", leaving=False, now=100.0)
    assert members.live(101.9) == ["me", "other"]
    assert members.live(102.1) == ["me"]
    members.announce("other", leaving=False, now=103.0)
    members.announce("other", leaving=True, now=103.5)  # a clean stop: gone at once
    assert members.live(103.6) == ["me"]


def test_the_engine_url_names_every_node() -> None:
    t = parse_engine_url("amqp://ingest:s%40cret@mq1:5672,mq2:5673,mq3/city")
    assert t.hosts == [("mq1", 5672), ("mq2", 5673), ("mq3", 5672)]
    assert (t.username, t.password, t.vhost) == ("ingest", "s@cret", "city")
    with pytest.raises(ValueError, match="amqp://"):
        parse_engine_url("nats://mq1:4222")


def test_serve_stops_with_the_reason_when_no_engine_node_answers(
    tmp_path: Path, broker: Mosquitto
) -> None:
    # given a reachable MQTT broker but no engine on the given nodes
    url = f"amqp://ingest:hunter2-secret@127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    args = ["serve", "--engine-url", url, "--mqtt-url", broker.url, "--geofences", str(TEST_ZONES)]
    args += ["--data-dir", str(tmp_path / "data"), "--http", f"127.0.0.1:{free_port()}"]
    # when serve starts, then it stops with the reason, and the password stays hidden
    r = subprocess.run(
        [sys.executable, "-m", "smartcity_iot.cli", *args, "--mqtt-connect-timeout-s", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1, r.stderr
    assert "cannot reach the engine at amqp://ingest:***@127.0.0.1:" in r.stderr
    assert "hunter2" not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("child", [False, True], ids=["in-process", "pipeline-process"])
def test_two_workers_split_the_partitions_and_a_stopped_one_hands_its_over(
    engine: RabbitCluster, tmp_path: Path, child: bool
) -> None:
    tags = tags_of("A")
    msgs = stream(tags)
    expected = reference_alerts(tmp_path / "reference", tags, msgs)
    assert len(expected) > 20, "the stream must open and close incidents"
    data = tmp_path / "data"
    one, two = (Service(worker_settings(engine, data, w, child)) for w in ("w1", "w2"))
    db = connect(one.settings.db_path)
    register(db, tags)
    one.start()
    two.start()
    stopped = False
    try:
        assert one.wait_connected(20) and two.wait_connected(20)
        # given two workers, each consumes its rendezvous share, and together all
        share = {p for p in range(PARTITIONS) if owner(p, ["w1", "w2"]) == "w1"}
        assert wait_until(
            lambda: (
                one.source.partitions == share
                and two.source.partitions == set(range(PARTITIONS)) - share
            ),
            15,
        ), (one.source.partitions, two.source.partitions)
        devices = Devices(engine.mqtt[1], msgs).start()
        # when one stops mid-stream, the other takes its partitions and their backlog
        assert wait_until(lambda: stored(db) > len(msgs) // 3, 60)
        two.stop()
        stopped = True
        at_stop = stored(db)
        assert wait_until(lambda: one.source.partitions == set(range(PARTITIONS)), 10)
        devices.join()
        assert wait_until(lambda: stored(db) >= len(msgs), 60), f"{stored(db)} of {len(msgs)}"
    finally:
        one.stop()
        if not stopped:
            two.stop()
    assert at_stop < len(msgs), "the worker stopped mid-stream"
    assert_each_fix_once_in_order(db, msgs)
    assert alerts(db) == expected, "incident state moved with the partitions"


def test_a_worker_joining_mid_stream_takes_its_share_from_the_running_one(
    engine: RabbitCluster, tmp_path: Path
) -> None:
    tags = tags_of("J")
    msgs = stream(tags)
    expected = reference_alerts(tmp_path / "reference", tags, msgs)
    data = tmp_path / "data"
    one, two = (Service(worker_settings(engine, data, w)) for w in ("j1", "j2"))
    db = connect(one.settings.db_path)
    register(db, tags)
    one.start()
    started_two = False
    try:
        # given one worker consuming every partition mid-stream
        assert one.wait_connected(20)
        assert wait_until(lambda: one.source.partitions == set(range(PARTITIONS)), 10)
        devices = Devices(engine.mqtt[1], msgs).start()
        assert wait_until(lambda: stored(db) > len(msgs) // 4, 60)
        # when a second joins, then the first hands it its rendezvous share
        two.start()
        started_two = True
        at_join = stored(db)
        share = {p for p in range(PARTITIONS) if owner(p, ["j1", "j2"]) == "j2"}
        assert wait_until(
            lambda: two.source.partitions == share and one.source.partitions.isdisjoint(share),
            10,
        ), (one.source.partitions, two.source.partitions)
        devices.join()
        assert wait_until(lambda: stored(db) >= len(msgs), 60), f"{stored(db)} of {len(msgs)}"
    finally:
        one.stop()
        if started_two:
            two.stop()
    assert at_join < len(msgs), "the worker joined mid-stream"
    assert one.source.handovers >= len(share)
    assert_each_fix_once_in_order(db, msgs)
    assert alerts(db) == expected


def test_a_worker_killed_mid_stream_loses_no_fix_and_doubles_none(
    engine: RabbitCluster, tmp_path: Path
) -> None:
    tags = tags_of("B")
    msgs = stream(tags)
    expected = reference_alerts(tmp_path / "reference", tags, msgs)
    data = tmp_path / "data"
    data.mkdir()
    db = connect(data / "smartcity.db")
    register(db, tags)
    procs, logs = {}, {}
    for w in ("k1", "k2"):
        s = worker_settings(engine, data, w).model_copy(update={"http": f"127.0.0.1:{free_port()}"})
        env = {env_name(k): str(v) for k, v in s.model_dump().items() if v is not None}
        logs[w] = tmp_path / f"{w}.log"
        procs[w] = service_process(env, logs[w])
    try:
        assert wait_until(
            lambda: all("consuming partition" in logs[w].read_text() for w in procs), 40
        ), logs["k1"].read_text() + logs["k2"].read_text()
        devices = Devices(engine.mqtt[1], msgs).start()
        assert wait_until(lambda: stored(db) > len(msgs) // 3, 60)
        procs["k1"].send_signal(signal.SIGKILL)  # mid-batch, nothing handed over
        procs["k1"].wait(10)
        killed_at, at_kill = time.time(), stored(db)
        devices.join()
        assert wait_until(lambda: stored(db) >= len(msgs), 60), f"{stored(db)} of {len(msgs)}"
        assert wait_until(lambda: db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0, 30)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(15)
    assert at_kill < len(msgs), "the worker died mid-stream"
    assert_each_fix_once_in_order(db, msgs)
    assert alerts(db) == expected, "the survivor took the killed worker's incidents over"
    taken = [t - killed_at for t in claims(logs["k2"]) if t > killed_at]
    assert taken, "the survivor took the dead worker's partitions"
    # within the lease and a round of announcements
    assert max(taken) < 2.0 + 3.0, taken


def test_a_broker_node_killed_mid_stream_loses_no_fix(
    engine: RabbitCluster, tmp_path: Path
) -> None:
    tags = tags_of("C")
    msgs = stream(tags)
    expected = reference_alerts(tmp_path / "reference", tags, msgs)
    data = tmp_path / "data"
    # both workers connect to node 0 first (the engine URL's first node), where the
    # quorum queues' leaders are too
    one, two = (Service(worker_settings(engine, data, w)) for w in ("n1", "n2"))
    db = connect(one.settings.db_path)
    register(db, tags)
    one.start()
    two.start()
    try:
        assert one.wait_connected(20) and two.wait_connected(20)
        devices = Devices(engine.mqtt[1], msgs).start()
        assert wait_until(lambda: stored(db) > len(msgs) // 3, 60)
        engine.kill(0)  # SIGKILL the node: the workers reconnect to another
        at_kill = stored(db)
        devices.join()
        assert wait_until(lambda: stored(db) >= len(msgs), 60), f"{stored(db)} of {len(msgs)}"
    finally:
        one.stop()
        two.stop()
    assert at_kill < len(msgs), "the node died mid-stream"
    assert_each_fix_once_in_order(db, msgs)
    assert alerts(db) == expected
