"""Ships points to InfluxDB without ever blocking ingestion: the pipeline appends
line protocol to the `influx_spool` table inside each batch's transaction (so a
point is on disk before its MQTT message is acknowledged), and `InfluxWriter`, a
thread of its own, drains the spool in order through influxdb-client's write API.

* A row is deleted only after InfluxDB accepted it (2xx). Writes are idempotent
  (point time = fix/alert instant), so a write repeated after a crash or a lost
  response stores nothing twice.
* Unreachable, 5xx, 429 and auth/bucket errors (401/403/404, fixable by an
  operator) are retried with doubling pauses up to `influx_retry_max_s`.
* A 400 (a point InfluxDB will never accept, e.g. a field type conflict) is
  narrowed down by halving the batch; the one bad line goes to the dead-letter
  store and the rest is written. Retrying it would stall the spool forever.
* The spool holds at most `influx_spool_max` points. Beyond that the OLDEST are
  dropped, counted (`influx_dropped`) and logged: the newest data matters most to
  operators, and SQLite keeps the alerts and the track window regardless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import Settings
from ..counters import Counters
from . import deadletters
from .database import Connection, connect, errors, insert_many, relax_durability, transaction

log = logging.getLogger("smartcity_iot.influx")

REJECTED_STATUSES = (400, 413, 422)  # the points themselves are unacceptable
WARN_EVERY_S = 30.0


def spool(conn: Connection, lines: Sequence[str]) -> None:
    """Append points inside the caller's transaction."""
    insert_many(conn, "INSERT INTO influx_spool(line)", [(line,) for line in lines])


def spooled(conn: Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM influx_spool").fetchone()[0])


def oldest(conn: Connection, limit: int) -> list[tuple[int, str]]:
    """The oldest spooled points as (seq, line)."""
    rows = conn.execute("SELECT seq, line FROM influx_spool ORDER BY seq LIMIT ?", (limit,))
    return [(int(r["seq"]), str(r["line"])) for r in rows]


class _Retry(Exception):
    def __init__(self, why: str, after: float | None = None) -> None:
        super().__init__(why)
        self.after = after


class OutageLog:
    """An InfluxDB outage logged once when it starts, every WARN_EVERY_S while it lasts
    (with the spool's size), and once when writes work again: not once per retry."""

    def __init__(self, conn: Connection, counters: Counters) -> None:
        self.conn = conn
        self.counters = counters
        self._failing_since: float | None = None
        self._last_warning = 0.0

    def failed(self, why: str) -> None:
        self.counters.add("influx_retries")
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
            log.warning("%s; points stay in the spool and are retried", why)
        elif now - self._last_warning >= WARN_EVERY_S:
            log.warning(
                "%s for %.0f s; %d points spooled",
                why,
                now - self._failing_since,
                spooled(self.conn),
            )
        else:
            return
        self._last_warning = now

    def recovered(self) -> None:
        if self._failing_since is not None:
            log.warning(
                "InfluxDB writes work again after %.0f s", time.monotonic() - self._failing_since
            )
            self._failing_since = None


class InfluxWriter:
    def __init__(
        self, settings: Settings, database: Path | str, counters: Counters | None = None
    ) -> None:
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        if not settings.influx_url:
            raise ValueError("InfluxWriter needs --influx-url")
        self.settings = settings
        self.counters = counters or Counters()
        self.conn = connect(database)
        # A delete lost to power failure only makes the writer send those points again,
        # which stores nothing twice: the writer's own commits need no fsync.
        relax_durability(self.conn)
        self.client = InfluxDBClient(
            url=settings.influx_url,
            token=settings.influx_token or "",
            org=settings.influx_org or "-",
            timeout=int(settings.influx_timeout_s * 1000),
        )
        self.write_api = self.client.write_api(write_options=SYNCHRONOUS)
        self.bucket = settings.influx_bucket or "smartcity"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="influx-writer", daemon=True)
        self.outage = OutageLog(self.conn, self.counters)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.settings.influx_timeout_s + 5)
        self.client.close()

    # -- the loop ---------------------------------------------------------------

    def _run(self) -> None:
        pause = 0.0
        while not self._stop.is_set():
            try:
                self.trim()
                written = self.drain_once()
            except _Retry as exc:
                pause = min(max(pause * 2, 0.5), self.settings.influx_retry_max_s)
                self.outage.failed(str(exc))
                self._pause(exc.after if exc.after is not None else pause)
                continue
            except Exception:  # a bug or the local database: keep the thread alive
                log.exception("InfluxDB writer failed; retrying")
                self._pause(1.0)
                continue
            pause = 0.0
            self.outage.recovered()
            if written < self.settings.influx_batch_points:
                self._pause(self.settings.influx_flush_ms / 1000)

    def _pause(self, seconds: float) -> None:
        """Sleep in short slices, trimming the spool meanwhile, so the bound holds during
        an outage."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, 1.0))
            try:
                self.trim()
            except errors():
                log.exception("could not trim the InfluxDB spool")

    def drain_once(self) -> int:
        """Write the oldest batch of spooled points; returns how many left the spool."""
        rows = oldest(self.conn, self.settings.influx_batch_points)
        if not rows:
            return 0
        self._write(rows)
        self.conn.execute("DELETE FROM influx_spool WHERE seq <= ?", (rows[-1][0],))
        self.counters.add("influx_written", len(rows))
        return len(rows)

    def trim(self) -> int:
        """Enforce the bound: drop the oldest points beyond `influx_spool_max`."""
        lo, hi = self.conn.execute("SELECT MIN(seq), MAX(seq) FROM influx_spool").fetchone()
        if lo is None or hi - lo + 1 <= self.settings.influx_spool_max:
            return 0
        dropped = self.conn.execute(
            "DELETE FROM influx_spool WHERE seq <= ?", (hi - self.settings.influx_spool_max,)
        ).rowcount
        if dropped:
            self.counters.add("influx_dropped", dropped)
            log.warning(
                "InfluxDB spool full (%d points): dropped the %d oldest",
                self.settings.influx_spool_max,
                dropped,
            )
        return int(dropped)

    # -- one write, narrowed on rejection -----------------------------------------

    def _write(self, rows: list[tuple[int, str]]) -> None:
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException

        try:
            self.write_api.write(
                bucket=self.bucket,
                org=self.settings.influx_org or "-",
                record="\n".join(line for _, line in rows),
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            if status in REJECTED_STATUSES:
                if len(rows) == 1:
                    self._dead_letter(rows[0], status, _message(exc))
                    return
                # 1.x/2.x may have stored the good points: rewriting them is harmless
                half = len(rows) // 2
                self._write(rows[:half])
                self._write(rows[half:])
                return
            raise _Retry(f"InfluxDB answered {status}: {_message(exc)}", _retry_after(exc)) from exc
        except Exception as exc:  # connection refused, reset, timeout...
            raise _Retry(f"InfluxDB unreachable: {exc!r}") from exc

    def _dead_letter(self, row: tuple[int, str], status: int, message: str) -> None:
        seq, line = row
        with transaction(self.conn):
            deadletters.add(
                self.conn,
                time.time(),
                "influxdb/write",
                "influx_rejected",
                f"{status}: {message}",
                line.encode(),
            )
            self.conn.execute("DELETE FROM influx_spool WHERE seq = ?", (seq,))
        self.counters.add("influx_rejected")
        log.error(
            "InfluxDB rejected a point (%d %s); dead-lettered: %s", status, message, line[:200]
        )


def _message(exc: Any) -> str:
    import json

    body = getattr(exc, "body", None)
    try:
        return str(json.loads(body or "").get("message", body))
    except (TypeError, ValueError, AttributeError):
        return str(body or getattr(exc, "reason", exc))


def _retry_after(exc: Any) -> float | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        value = headers.get("Retry-After")
        return float(value) if value else None
    except (TypeError, ValueError):
        return None
