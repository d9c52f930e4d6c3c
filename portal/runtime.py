"""Process-level tuning shared by the ASGI and WSGI entry points."""

import contextvars
import gc
import logging
import os
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)


def tune_gc() -> threading.Thread | None:
    """Collect less often, and keep what was loaded at start-up out of the passes.

    With a thousand open sockets a process holds many long-lived objects, and the
    collector's passes pause every request and socket of the process while they
    run (bench/chat_fanout.py measured pauses of 10–180 ms, dozens a minute with
    Python's default thresholds). What was loaded at start-up (Django, the apps,
    the URLs) is frozen: never scanned again. ``PORTAL_GC_THRESHOLD`` overrides
    the thresholds (three integers, as ``gc.set_threshold`` takes them).

    With these thresholds the oldest generation is almost never collected, so
    cyclic garbage would pile up. What puts it there is a chat socket that closes:
    it lived long enough for its objects to reach the oldest generation, and some
    of them (uvicorn's protocol objects, tracebacks) are cycles. A background
    thread runs a full collection once ``PORTAL_GC_FULL_AFTER_CLOSED`` sockets
    (default 500) have closed since the last one, and at the latest every
    ``PORTAL_GC_FULL_SECONDS`` (default 600; 0: no thread). A full collection
    pauses the whole process for as long as it scans every live object (about
    150 ms with 500 open sockets): collecting when there is garbage to free,
    instead of every minute, leaves the chat of a steady day without those
    pauses, and memory stays flat under connect/disconnect churn
    (docs/benchmarks.md, Chat fan-out).
    """
    thresholds = os.environ.get("PORTAL_GC_THRESHOLD", "200000,100,100").split(",")
    gc.set_threshold(*(int(n) for n in thresholds))
    # In a context of its own: what the warm-up sets in asgiref Locals (the active
    # language, the database connections) would otherwise be inherited by every
    # socket's context, and copied again on each of its database calls.
    contextvars.copy_context().run(warm_up)
    gc.collect()
    gc.freeze()
    longest = float(os.environ.get("PORTAL_GC_FULL_SECONDS", "600"))
    if longest <= 0:
        return None
    after_closed = int(os.environ.get("PORTAL_GC_FULL_AFTER_CLOSED", "500"))
    thread = threading.Thread(
        target=collect_when,
        args=(after_closed, longest, threading.Event()),
        name="gc-full",
        daemon=True,
    )
    thread.start()
    return thread


def warm_up() -> None:
    """Load now what Django would load on first use, so that it is frozen with the rest.

    The URLconf (and with it every view, form and service module) and the compiled
    templates are read once and kept for the life of the process. Loaded after the
    freeze (on the first page or the first chat message), they were scanned by every
    full collection again: with 500 chat sockets a server's collection went from
    about 150,000 objects and 710,000 references to 130,000 and 590,000 (the rest
    is the sockets' own, about 260 objects each; docs/benchmarks.md). It costs
    about a second at start-up, which the first page used to pay.
    """
    from django.apps import apps
    from django.conf import settings
    from django.template.loader import get_template
    from django.urls import get_resolver

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 (imports every view)
    resolver.reverse_dict  # noqa: B018 (the tables reverse() reads)
    for model in apps.get_models():
        model._meta.get_fields()
    for engine in settings.TEMPLATES:
        for directory in engine.get("DIRS", []):
            root = Path(directory)
            for path in sorted(root.rglob("*.html")):
                get_template(path.relative_to(root).as_posix())


class _Counter:
    """A count shared between the event loop's thread and the collector's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.value = 0

    def add(self) -> None:
        with self._lock:
            self.value += 1


_closed_sockets = _Counter()


def socket_closed() -> None:
    """Called by the chat consumer for each socket that ends (see ``tune_gc``)."""
    _closed_sockets.add()


def collect_when(
    after_closed: int, longest: float, stop: threading.Event, check: float = 5.0
) -> None:
    """A full collection once ``after_closed`` sockets have closed since the last one,
    or ``longest`` seconds after it, whichever comes first; checked every ``check``
    seconds until ``stop`` is set."""
    closed_then = _closed_sockets.value
    then = time.monotonic()
    while not stop.wait(check):
        closed = _closed_sockets.value - closed_then
        waited = time.monotonic() - then
        if closed < after_closed and waited < longest:
            continue
        started = time.perf_counter()
        found = gc.collect()
        # The pause of every socket and request of the process (bench/chat_fanout.py
        # reads these lines from the servers' logs).
        logger.info(
            "full collection: %.1f ms, %d unreachable objects found "
            "(%d sockets closed, %.0f s since the last)",
            1000 * (time.perf_counter() - started),
            found,
            closed,
            waited,
        )
        closed_then += closed
        then = time.monotonic()
