"""The database's one door: `connect` opens the engine the settings choose (SQLite in
the data dir by default, PostgreSQL with --database-url), and the few things the
engines do differently are asked of the connection here, never spelt out by callers."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from . import sqlite
from .locations import DatabaseUnreachable, describe  # noqa: F401 - named by callers here

PG_SCHEMES = ("postgresql://", "postgres://")


class Row(Protocol):
    """A result row: by column name or by index (sqlite3.Row, postgres.Row)."""

    def __getitem__(self, key: Any, /) -> Any: ...
    def keys(self) -> list[str]: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """What the store uses of a connection: sqlite3's API, which postgres.PgConnection
    also offers. SQL is written with `?` placeholders."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Cursor: ...
    @property
    def in_transaction(self) -> bool: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def is_postgres(location: Path | str) -> bool:
    return isinstance(location, str) and location.startswith(PG_SCHEMES)


def connect(location: Path | str, *, readonly: bool = False) -> Connection:
    """Open (and unless `readonly`, create) the database at `location`: a PostgreSQL URL,
    or the path of the SQLite file (Settings.database gives the one configured)."""
    if is_postgres(location):
        from . import postgres  # psycopg only where PostgreSQL is used

        return postgres.connect(str(location), readonly=readonly)
    return sqlite.connect(Path(location), readonly=readonly)


def _pg(conn: Connection) -> Any:
    """The postgres module when `conn` is a PostgreSQL connection, else None."""
    if isinstance(conn, sqlite3.Connection):
        return None
    from . import postgres

    return postgres


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[Connection]:
    """The one way to write: all of the block or none of it (sqlite.transaction,
    postgres.transaction)."""
    pg = _pg(conn)
    with pg.transaction(conn) if pg else sqlite.transaction(conn) as tx:  # type: ignore[arg-type]
        yield tx


def data_version(conn: Connection) -> int:
    """Changes when another connection commits: unchanged means nothing new to read."""
    pg = _pg(conn)
    return int(pg.data_version(conn)) if pg else sqlite.data_version(conn)  # type: ignore[arg-type]


def chunks(values: Iterable[Any], size: int = 500) -> Iterator[list[Any]]:
    """`values` in lists of at most `size`, for `IN (?, ...)` (SQLite caps the number of
    parameters of one statement)."""
    part: list[Any] = []
    for v in values:
        part.append(v)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part


def insert_many(
    conn: Connection, insert: str, rows: Sequence[Sequence[Any]], tail: str = ""
) -> None:
    """`insert` ("INSERT INTO t(a, b)") with VALUES for every row, then `tail` (an
    ON CONFLICT clause). SQLite: up to 500 rows in one statement, because its
    executemany steps each row on its own and gives the interpreter lock up around each
    step; behind a busy MQTT thread every row then waits to get it back (py-spy of
    bench/live.py: 40 % of the ingest thread; against a spinning thread 3.4 ms a row,
    35 us in one statement). PostgreSQL: psycopg's pipelined executemany."""
    if not rows:
        return
    one = "(" + ",".join("?" * len(rows[0])) + ")"
    if _pg(conn):
        conn.executemany(f"{insert} VALUES {one} {tail}", rows)
        return
    for part in chunks(rows, min(500, 30000 // len(rows[0]))):
        values = ",".join([one] * len(part))
        conn.execute(f"{insert} VALUES {values} {tail}", [v for row in part for v in row])


def for_update(conn: Connection) -> str:
    """Appended to a SELECT whose rows the transaction then changes: PostgreSQL locks them
    until the commit. SQLite needs nothing: `BEGIN IMMEDIATE` already holds the only
    write lock."""
    return " FOR UPDATE" if _pg(conn) else ""


def skip_locked(conn: Connection) -> str:
    """Appended to a SELECT that claims rows for its transaction (several workers share
    one outbox): PostgreSQL locks them and the others' same SELECT passes them by.
    Empty on SQLite, whose one process has nobody to share them with."""
    return " FOR UPDATE SKIP LOCKED" if _pg(conn) else ""


def lock(conn: Connection, *names: str) -> None:
    """Inside a transaction: wait for, then hold till its end, a lock on each name (a phone,
    a rate-limit key) where the row to lock may not exist yet. PostgreSQL's advisory
    locks; SQLite's `BEGIN IMMEDIATE` already serialises every writer."""
    pg = _pg(conn)
    if pg:
        pg.lock(conn, names)


def json_field(conn: Connection, column: str, key: str) -> str:
    """SQL for the JSON text of `key` in the JSON document held by `column`."""
    pg = _pg(conn)
    return str(pg.json_field(column, key)) if pg else sqlite.json_field(column, key)


def json_text(conn: Connection, column: str, key: str) -> str:
    """SQL for the string value of `key` (unquoted) in the JSON document in `column`."""
    pg = _pg(conn)
    return str(pg.json_text(column, key)) if pg else sqlite.json_text(column, key)


def relax_durability(conn: Connection) -> None:
    """A connection whose commits may be lost on power failure (never half-done): for
    writes that are safe to repeat."""
    pg = _pg(conn)
    if pg:
        pg.relax_durability(conn)
    else:
        sqlite.relax_durability(conn)  # type: ignore[arg-type]


def errors() -> tuple[type[Exception], ...]:
    """Every engine's database error, for an `except` that must outlive any of them."""
    found: tuple[type[Exception], ...] = (sqlite3.Error,)
    psycopg = sys.modules.get("psycopg")  # loaded with the first PostgreSQL connection
    return found + (psycopg.Error,) if psycopg else found


def store_failed(exc: BaseException) -> bool:
    """The store itself failed (disk full, locked, I/O, corrupt; the server gone): the
    caller keeps its work and retries. Other database errors (a constraint, a value the
    engine cannot hold) are bugs a message tripped."""
    if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
        return True
    psycopg = sys.modules.get("psycopg")
    return bool(psycopg) and isinstance(exc, psycopg.OperationalError)  # type: ignore[union-attr]
