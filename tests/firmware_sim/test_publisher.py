"""Publishing the simulated stream to a real Mosquitto, and the command line."""

from __future__ import annotations

import json
import threading
import time

import paho.mqtt.client as mqtt
import pytest

from firmware_sim.__main__ import main, parse_duration
from firmware_sim.publisher import QUEUE_LIMIT, parse_mqtt_url, publish_stream


def subscribe(url: str, expected: int) -> tuple[mqtt.Client, list, threading.Event]:
    host, port, _, _ = parse_mqtt_url(url)
    got: list[tuple[str, bytes]] = []
    done, ready = threading.Event(), threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-sim-sub")

    def on_connect(c, *_):
        c.subscribe([("tags/#", 1), ("owntracks/#", 1)])

    def on_message(_c, _u, msg):
        got.append((msg.topic, msg.payload))
        if len(got) >= expected:
            done.set()

    sub.on_connect = on_connect
    sub.on_subscribe = lambda *_: ready.set()
    sub.on_message = on_message
    sub.connect(host, port)
    sub.loop_start()
    assert ready.wait(10)
    return sub, got, done


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_burst_larger_than_the_client_queue_arrives_complete_and_in_order(broker, protocol):
    n = 3 * QUEUE_LIMIT + 17
    messages = [(1_800_000_000.0 + i, "tags/QZT-000001/fix", json.dumps({"seq": i}).encode())
                for i in range(n)]  # fmt: skip
    sub, got, done = subscribe(broker.url, n)
    try:
        stats = publish_stream(messages, broker.url, protocol=protocol, client_id=f"sim-{protocol}")
        assert done.wait(20)
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert stats["published"] == stats["acked"] == n and stats["failed"] == 0
    assert [json.loads(p)["seq"] for _, p in got] == list(range(n))


def test_speed_paces_on_message_time(broker):
    messages = [(1000.0 + 2 * i, "tags/QZT-000002/fix", b"{}") for i in range(6)]
    t0 = time.monotonic()
    stats = publish_stream(messages, broker.url, speed=20.0)  # 10 sim seconds -> 0.5 s
    assert 0.45 <= time.monotonic() - t0 < 3 and stats["acked"] == 6


def test_unreachable_broker_is_a_clear_connection_error():
    with pytest.raises(ConnectionError, match="127.0.0.1:1"):
        publish_stream([(0.0, "tags/x/fix", b"{}")], "mqtt://127.0.0.1:1")


def test_mqtt_url_with_credentials_is_parsed():
    assert parse_mqtt_url("mqtt://sim:p%40ss@broker:1884") == ("broker", 1884, "sim", "p@ss")
    with pytest.raises(ValueError, match="mqtt-url"):
        parse_mqtt_url("http://broker")


def test_cli_publishes_a_fleet_and_writes_truth_and_fleet(broker, tmp_path, capsys):
    rc = main(["tags", "--mqtt-url", broker.url, "--tags", "4", "--seed", "2", "--start",
               "2026-11-23T06:30:00+08:00", "--duration", "90m", "--owntracks-share", "0.5",
               "--truth", str(tmp_path / "t.jsonl"),
               "--fleet", str(tmp_path / "f.json")])  # fmt: skip
    out = capsys.readouterr()
    assert rc == 0 and "failed 0" in out.out and "published" in out.err
    assert len(json.loads((tmp_path / "f.json").read_text())) == 4
    assert (tmp_path / "t.jsonl").exists()


def test_cli_errors_name_the_flag(capsys):
    with pytest.raises(SystemExit):
        main(["tags", "--dry-run", "--violation-share", "1.5"])
    assert "--violation-share" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["tags", "--dry-run", "--geofences", "/nonexistent"])
    assert "--geofences" in capsys.readouterr().err


def test_relative_start_and_durations(tmp_path):
    assert parse_duration("1h30m") == 5400 and parse_duration("45s") == 45
    assert parse_duration("600") == 600
    rc = main(["tags", "--dry-run", "--tags", "2", "--start", "-2h", "--duration", "30m",
               "--truth", str(tmp_path / "t.jsonl")])  # fmt: skip
    assert rc == 0
