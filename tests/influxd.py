"""A real InfluxDB engine for the tests: Debian's influxd 1.6.7 on free 127.0.0.1
ports with a throw-away config (reporting, monitor store, logs off), started and
stopped by PID. It serves /write and /query (1.x API); the v2 write endpoint the
service's client uses is provided by tests/influx_v2_write_adapter.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .support import free_port, wait_until

CONFIG = """\
reporting-disabled = true
bind-address = "127.0.0.1:{rpc}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[ifql]
  enabled = false

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
"""


class Influxd:
    def __init__(self, workdir: Path) -> None:
        self.binary = shutil.which("influxd") or "/usr/bin/influxd"
        if not os.path.exists(self.binary):
            raise RuntimeError(
                "influxd is not installed: run scripts/test.sh, which installs Debian's influxdb"
            )
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.conf = workdir / "influxdb.conf"
        self.conf.write_text(CONFIG.format(root=workdir, rpc=free_port(), http=self.port))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.workdir / "influxd.log", "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-config", str(self.conf)], stdout=log, stderr=log
            )
        if not wait_until(self.ping, 30, 0.1):
            raise RuntimeError(
                f"influxd did not start on {self.url}: {(self.workdir / 'influxd.log').read_text()}"
            )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def ping(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=1) as resp:
                return bool(resp.status == 204)
        except OSError:
            return False

    def query(self, q: str, db: str | None = None) -> list[dict[str, Any]]:
        """InfluxQL over /query; returns the series of the first statement."""
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        data = urllib.parse.urlencode(params).encode()
        with urllib.request.urlopen(self.url + "/query", data=data, timeout=30) as resp:
            doc = json.loads(resp.read())
        result = doc["results"][0]
        if "error" in result:
            raise RuntimeError(result["error"])
        return list(result.get("series", []))

    def create_db(self, db: str) -> None:
        self.query(f'CREATE DATABASE "{db}"')

    def rows(self, q: str, db: str) -> list[dict[str, Any]]:
        """Every row of every series as a dict (series tags merged in)."""
        out = []
        for series in self.query(q, db):
            for values in series.get("values", []):
                row = dict(zip(series["columns"], values))
                row.update(series.get("tags") or {})
                out.append(row)
        return out
