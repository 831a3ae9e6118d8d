"""Process-wide settings of a long-running service process (`serve`, its pipeline child)."""

from __future__ import annotations

import gc


def settle_heap() -> None:
    """Once started: move everything made so far (modules, zones, the city's files,
    caches) out of the cyclic collector's reach. Its full collections otherwise walk
    that whole heap every few seconds under load, stopping the pipeline each time
    (measured: 35-105 ms every ~2 s at 4,850 fixes/s; 12-16x less after this,
    BENCHMARKS.md). Objects made later are collected as before."""
    gc.collect()
    gc.freeze()
