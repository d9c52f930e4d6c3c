"""The web processes' garbage-collector settings (portal/runtime.py)."""

import gc
import logging
import threading

from portal import runtime


def _run_collector(monkeypatch, *, after_closed, longest, closing, checks):
    """Run ``collect_when`` for ``checks`` checks, closing ``closing[i]`` sockets
    before check i, on a clock that advances 5 s per check; return the check numbers
    at which it collected."""
    collected = []
    clock = iter(range(0, 10_000, 5))
    monkeypatch.setattr(runtime.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(runtime.gc, "collect", lambda *a: collected.append((n, a)) or 0)
    stop = threading.Event()
    n = 0

    def wait(seconds):
        nonlocal n
        n += 1
        for _ in range(closing[n - 1] if n <= len(closing) else 0):
            runtime.socket_closed()
        return n > checks

    monkeypatch.setattr(stop, "wait", wait)
    runtime.collect_when(after_closed, longest, stop)
    assert all(args == () for _n, args in collected)  # full: every generation
    return [n for n, _args in collected]


def test_a_full_collection_runs_once_enough_sockets_have_closed(monkeypatch):
    # 3 sockets per check, a collection after 10: at checks 4, 8 and 12 (12 closed each).
    at = _run_collector(monkeypatch, after_closed=10, longest=10_000, closing=[3] * 13, checks=13)
    assert at == [4, 8, 12]


def test_without_closed_sockets_a_full_collection_waits_for_the_longest_interval(monkeypatch):
    # The clock advances 5 s per check (and once at the start): 60 s at check 12.
    at = _run_collector(monkeypatch, after_closed=500, longest=60, closing=[], checks=30)
    assert at == [12, 24]
    # A socket closing now and then does not bring it forward.
    at = _run_collector(monkeypatch, after_closed=500, longest=60, closing=[1] * 30, checks=30)
    assert at == [12, 24]


def test_each_full_collection_logs_its_pause(monkeypatch, caplog):
    with caplog.at_level(logging.INFO, logger="portal.runtime"):
        _run_collector(monkeypatch, after_closed=2, longest=10_000, closing=[2], checks=1)
    [record] = caplog.records
    assert record.getMessage().startswith("full collection: ")
    assert record.getMessage().endswith(
        " ms, 0 unreachable objects found (2 sockets closed, 5 s since the last)"
    )


def test_the_collector_thread_stops_when_told(monkeypatch):
    stop = threading.Event()
    worker = threading.Thread(target=runtime.collect_when, args=(500, 600, stop, 0.01))
    worker.start()
    stop.set()
    worker.join(5)
    assert not worker.is_alive()


def test_the_thresholds_and_the_timer_follow_the_environment(monkeypatch):
    before = gc.get_threshold()
    monkeypatch.setattr(runtime.gc, "freeze", lambda: None)
    monkeypatch.setenv("PORTAL_GC_THRESHOLD", "5000,20,30")
    monkeypatch.setenv("PORTAL_GC_FULL_SECONDS", "0")
    try:
        assert runtime.tune_gc() is None  # 0: no timer
        assert gc.get_threshold() == (5000, 20, 30)
    finally:
        gc.set_threshold(*before)


WARM_PROBE = """
import contextvars, gc, os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings.base"
os.environ["PORTAL_GC_FULL_SECONDS"] = "0"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
import django
django.setup()
from asgiref.local import _Storage
import portal.asgi  # tune_gc(): warm up, collect, freeze
gc.collect()
before = len(gc.get_objects())
from django.template.loader import get_template
from django.urls import resolve, reverse
reverse("home"); resolve("/g/some-group/documents/")
for name in ("base.html", "groups/detail.html", "documents/list.html", "portal/dashboard.html"):
    get_template(name)
gc.collect()
storages = sum(isinstance(v, _Storage) for v in contextvars.copy_context().values())
print(len(gc.get_objects()) - before, storages)
"""


def test_what_django_loads_on_first_use_is_loaded_and_frozen_at_start_up():
    """A fresh process, as uvicorn and gunicorn start one: the URLconf (every view) and
    the templates are loaded before the freeze, so a full collection never scans them
    again; and the warm-up leaves no asgiref Local in the context every socket inherits.
    Without the warm-up these few pages added about 30,000 objects to every collection
    (all the project's templates and views: about 48,000).
    """
    import subprocess
    import sys

    from django.conf import settings

    out = subprocess.run(
        [sys.executable, "-c", WARM_PROBE],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    new_objects, storages = int(out[-2]), int(out[-1])
    assert new_objects < 500, new_objects
    assert storages <= 1, storages  # asgiref's own, there before the warm-up too
