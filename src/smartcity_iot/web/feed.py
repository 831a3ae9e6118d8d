"""The operators' live alert feed, pushed to browsers as server-sent events.

Source: the alerts table itself, polled every 0.25 s on one connection for the whole
app (SQLite's data_version makes an idle poll nearly free). Why not alerts/# over
MQTT: the table is where every change lands first (the pipeline's and the
operators' own), it needs no second broker session or credentials for the web, it
keeps working while the broker is down, and a browser that reconnects can be
brought up to date from the same place. A change is found by `updated_at` with an
overlap window (a batch stamps its alerts before it commits) and de-duplicated on
(id, revision), exactly as MQTT consumers are told to do.

A stream lives only as long as the session that opened it: `SessionBoundStreams`
checks the session every CHECK_S and ends the stream once it is gone (log-out, sign
out everywhere, a password change or reset, expiry)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from pathlib import Path

import anyio
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..store.alerts import changed_since, revisions_since, row_to_alert
from ..store.database import Connection, connect, data_version, errors

POLL_S = 0.25
OVERLAP_S = 30.0
HEARTBEAT_S = 15.0
QUEUE_MAX = 1000
CHECK_S = 1.0


class AlertFeed:
    def __init__(self, database: Path | str) -> None:
        self.database = database
        self._conn: Connection | None = None
        self._version = -1
        self._cursor = time.time() - OVERLAP_S
        self._seen: dict[str, tuple[int, float]] = {}
        # Each browser's queue with the event loop it lives on (tests may run several loops).
        self._subscribers: dict[asyncio.Queue[str | None], asyncio.AbstractEventLoop] = {}
        self._lock = threading.Lock()

    # -- polling --------------------------------------------------------------------

    def poll(self) -> list[str]:
        """Alert changes committed since the last poll, as JSON documents."""
        with self._lock:
            return self._poll()

    def _poll(self) -> list[str]:
        if self._conn is None:
            self._conn = connect(self.database, readonly=True)
            self._prime()
        version = data_version(self._conn)
        if version == self._version:
            return []
        self._version = version
        rows = changed_since(self._conn, self._cursor - OVERLAP_S)
        out = []
        for row in rows:
            if self._seen.get(row["id"], (0, 0.0))[0] >= row["revision"]:
                continue
            self._seen[row["id"]] = (row["revision"], row["updated_at"])
            out.append(json.dumps(asdict(row_to_alert(row)), ensure_ascii=False))
            self._cursor = max(self._cursor, row["updated_at"])
        horizon = self._cursor - 2 * OVERLAP_S
        if len(self._seen) > 10_000:
            self._seen = {k: v for k, v in self._seen.items() if v[1] >= horizon}
        return out

    def _prime(self) -> None:
        # What is already there when the app starts is history, not news.
        assert self._conn is not None
        for alert_id, revision, updated_at in revisions_since(self._conn, self._cursor - OVERLAP_S):
            self._seen[alert_id] = (revision, updated_at)

    async def run(self) -> None:
        while True:
            try:
                changes = await asyncio.to_thread(self.poll)
            except errors():
                changes = []  # database busy or being created: try again next tick
            for doc in changes:
                for q, loop in list(self._subscribers.items()):
                    loop.call_soon_threadsafe(self._deliver, q, doc)
            await asyncio.sleep(POLL_S)

    def _deliver(self, q: asyncio.Queue[str | None], doc: str | None) -> None:
        try:
            q.put_nowait(doc)
        except asyncio.QueueFull:  # a stalled browser: drop it, it will reconnect
            self._subscribers.pop(q, None)
            with contextlib.suppress(asyncio.QueueFull):
                q.get_nowait()
                q.put_nowait(None)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Poll while the app runs (the app's lifespan)."""
        task = asyncio.get_running_loop().create_task(self.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            for q, loop in list(self._subscribers.items()):
                with contextlib.suppress(RuntimeError):  # that loop is already closed
                    loop.call_soon_threadsafe(self._deliver, q, None)

    # -- subscribers ------------------------------------------------------------------

    async def events(self) -> AsyncIterator[str]:
        """One browser's stream: an opening comment, then `alert` events and heartbeats."""
        q: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_MAX)
        self._subscribers[q] = asyncio.get_running_loop()
        try:
            yield "retry: 2000\n: connected\n\n"
            while True:
                try:
                    doc = await asyncio.wait_for(q.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield ": ping\n\n"
                    continue
                if doc is None:
                    return
                yield f"event: alert\ndata: {doc}\n\n"
        finally:
            self._subscribers.pop(q, None)


class SessionBoundStreams:
    """ASGI middleware: a response that is an event stream (text/event-stream) ends,
    with a last `session-ended` event, once `alive(session token)` says the session that
    opened it is gone. Checked every `every_s` while the stream is open, on a worker
    thread (the check is a database read). Other responses pass untouched."""

    def __init__(
        self, app: ASGIApp, alive: Callable[[str], bool], cookie: str, every_s: float = CHECK_S
    ) -> None:
        self.app = app
        self.alive = alive
        self.cookie = cookie
        self.every_s = every_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _cookie(scope, self.cookie) if scope["type"] == "http" else None
        if token is None or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        streaming = anyio.Event()
        finished = ended = False

        async def tracked_send(message: Message) -> None:
            nonlocal finished
            if message["type"] == "http.response.start" and _is_event_stream(message):
                streaming.set()
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finished = True
            await send(message)

        async with anyio.create_task_group() as tasks:

            async def watch() -> None:
                nonlocal ended
                await streaming.wait()
                while not finished:
                    await anyio.sleep(self.every_s)
                    if not await anyio.to_thread.run_sync(self.alive, token):
                        ended = True
                        tasks.cancel_scope.cancel()  # the stream's generator ends here
                        return

            tasks.start_soon(watch)
            await self.app(scope, receive, tracked_send)
            tasks.cancel_scope.cancel()
        if ended and not finished:
            await send(
                {
                    "type": "http.response.body",
                    "body": b"event: session-ended\ndata: {}\n\n",
                    "more_body": False,
                }
            )


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(name)
    return None


def _is_event_stream(message: Message) -> bool:
    return any(
        k == b"content-type" and v.split(b";")[0].strip() == b"text/event-stream"
        for k, v in message.get("headers", ())
    )
