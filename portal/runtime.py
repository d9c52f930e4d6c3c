"""Process-level tuning shared by the ASGI and WSGI entry points."""

import gc
import os


def tune_gc() -> None:
    """Collect less often, and keep what was loaded at start-up out of the passes.

    With a thousand open sockets a process holds many long-lived objects, and the
    collector's passes pause every request and socket of the process while they
    run (bench/chat_fanout.py measured pauses of 10–180 ms, dozens a minute with
    Python's default thresholds). What was loaded at start-up (Django, the apps,
    the URLs) is frozen: never scanned again. ``PORTAL_GC_THRESHOLD`` overrides
    the thresholds (three integers, as ``gc.set_threshold`` takes them).
    """
    thresholds = os.environ.get("PORTAL_GC_THRESHOLD", "200000,100,100").split(",")
    gc.set_threshold(*(int(n) for n in thresholds))
    gc.collect()
    gc.freeze()
