"""runtime.settle_heap: start-up's objects frozen, what comes later still collected.
Run in a child interpreter: freezing pytest's own heap would outlive this test."""

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    """
    import gc, weakref
    from smartcity_iot.runtime import settle_heap

    class Node:
        pass

    early = Node(); early.me = early          # a cycle made at start-up
    early_ref = weakref.ref(early)
    del early
    settle_heap()                             # collects it first, then freezes the rest
    assert early_ref() is None, "start-up garbage must be collected before freezing"
    frozen = gc.get_freeze_count()
    assert frozen > 1000, frozen              # the modules' objects, at least

    late = Node(); late.me = late             # a cycle made while serving
    late_ref = weakref.ref(late)
    del late
    gc.collect()
    assert late_ref() is None, "a later cycle must still be collected"
    assert gc.get_freeze_count() == frozen
    print("ok", frozen)
    """
)


def test_settle_heap_freezes_start_up_and_still_collects_later_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok ")
