"""The tag pipeline in a child process (`--pipeline-process`), so receiving (paho, in
the service's process) and the pipeline do not share one interpreter lock: paho's
receive path costs about twice what the pipeline does, and under one lock the two
take turns (BENCHMARKS.md, one worker live).

The service's batch worker hands each batch over a pipe and waits for the answer
before acknowledging, exactly as it waits for the in-process pipeline: the child
commits, then answers. A child that fails a batch answers with the error (the batch
is retried, unacknowledged); a child that dies is started again and the batch retried
(its transaction died with it). Counts and "something committed" come back with each
answer, for the status line and the alert publisher."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection as Pipe
from typing import Any

from ..config import Settings
from ..counters import Counters
from ..model import Inbound

log = logging.getLogger("smartcity_iot.pipeline")


def _child(settings: Settings, pipe: Pipe) -> None:
    """The child's whole life: a pipeline on its own connection, one request at a time."""
    from ..geo.city import load_city
    from ..runtime import settle_heap
    from ..store.database import connect
    from .tags import TagPipeline

    counters = Counters()
    committed = threading.Event()
    city = load_city(settings.geofences, settings.tz, settings.dwell_s, settings.grace_s)
    conn = connect(settings.database)
    pipeline = TagPipeline.serving(settings, conn, city.zones, counters, committed.set)
    settle_heap()
    pipe.send(("ready", {}, False))
    while True:
        try:
            op, batch = pipe.recv()
        except EOFError:  # the service is gone
            return
        if op == "stop":
            return
        before = counters.snapshot()
        error = None
        try:
            if op == "batch":
                pipeline.process_isolating(batch)
            else:
                pipeline.sweep()
        except Exception as exc:  # the store failed: the service keeps the batch and retries
            error = repr(exc)
        after = counters.snapshot()
        delta = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
        pipe.send((error, delta, committed.is_set()))
        committed.clear()


class PipelineProcess:
    """`process_isolating` and `sweep` of a TagPipeline running in a child process."""

    def __init__(
        self, settings: Settings, counters: Counters, on_commit: Callable[[], None]
    ) -> None:
        self.settings = settings
        self.counters = counters
        self.on_commit = on_commit
        self._lock = threading.Lock()
        self._ctx = multiprocessing.get_context("spawn")  # never fork a threaded process
        self._proc: Any = None
        self._pipe: Pipe | None = None
        self.restarts = 0

    def start(self, timeout: float = 60) -> None:
        ours, theirs = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_child, args=(self.settings, theirs), name="tag-pipeline", daemon=True
        )
        self._proc.start()
        theirs.close()
        if not ours.poll(timeout):
            self._proc.kill()
            raise RuntimeError("the tag pipeline process did not start")
        ours.recv()
        self._pipe = ours

    def stop(self) -> None:
        with self._lock:
            if self._pipe is not None:
                with contextlib.suppress(OSError):
                    self._pipe.send(("stop", None))
            if self._proc is not None:
                self._proc.join(10)
                if self._proc.is_alive():
                    self._proc.kill()

    def _call(self, op: str, batch: list[Inbound] | None) -> None:
        with self._lock:
            try:
                assert self._pipe is not None
                self._pipe.send((op, batch))
                error, delta, committed = self._pipe.recv()
            except (EOFError, OSError) as exc:
                log.error("the tag pipeline process died (%r); starting it again", exc)
                self.restarts += 1
                if self._proc is not None:
                    self._proc.join(5)
                self.start()
                raise RuntimeError("the tag pipeline process died; the batch is retried") from exc
        self.counters.merge(delta)
        if committed:
            self.on_commit()
        if error:
            raise RuntimeError(f"tag pipeline: {error}")

    def process_isolating(self, batch: list[Inbound]) -> None:
        self._call("batch", batch)

    def sweep(self) -> None:
        self._call("sweep", None)
