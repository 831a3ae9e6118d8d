"""Test harness: a real PostgreSQL (Debian's 15) in a temporary directory on a free port,
one server per test session and a fresh database per test. initdb refuses root, so the
server runs as the unprivileged `postgres` user when the tests run as root."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .support import free_port, listening, wait_until

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "smartcity"  # the superuser initdb makes (the tests' role)


def _tool(name: str) -> str:
    path = PG_BIN / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"PostgreSQL's {name} is not installed: the PostgreSQL backend's tests need "
            "Debian's postgresql (scripts/test.sh installs it: apt-get install postgresql)"
        )
    return found


class Postgres:
    """initdb + postgres on 127.0.0.1:<free port>, fsync off (a test database is thrown
    away), the socket in the data's own temporary directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="smartcity-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._names = itertools.count(1)
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        done = subprocess.run(
            [*self._as, *argv], capture_output=True, text=True, cwd=self.root, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        self._run(_tool("initdb"), "-D", str(self.data), "-U", USER, "-A", "trust", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(_tool("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"),
                  "-o", options, "-w", "-t", "30", "start")  # fmt: skip
        if not wait_until(lambda: listening(self.port), 30):
            raise RuntimeError(f"PostgreSQL did not listen on {self.port}: see {self.root}/log")

    def stop(self) -> None:
        try:
            self._run(_tool("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"test_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)
