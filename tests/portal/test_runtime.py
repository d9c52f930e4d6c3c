"""The web processes' garbage-collector settings (portal/runtime.py)."""

import gc
import logging
import threading

from portal import runtime


def test_full_collections_run_on_a_timer_until_stopped(monkeypatch):
    calls = []
    monkeypatch.setattr(runtime.gc, "collect", lambda *a: calls.append(a) or 0)
    stop = threading.Event()
    worker = threading.Thread(target=runtime.collect_every, args=(0.01, stop))
    worker.start()
    deadline = threading.Event()
    for _ in range(500):
        if len(calls) >= 3:
            break
        deadline.wait(0.01)
    stop.set()
    worker.join(5)
    assert not worker.is_alive()
    assert len(calls) >= 3
    assert calls[0] == ()  # a full collection: every generation


def test_each_timed_collection_logs_its_pause(monkeypatch, caplog):
    monkeypatch.setattr(runtime.gc, "collect", lambda *a: 7)
    stop = threading.Event()
    monkeypatch.setattr(stop, "wait", lambda seconds: stop.is_set() or stop.set() or False)
    with caplog.at_level(logging.INFO, logger="portal.runtime"):
        runtime.collect_every(60, stop)
    assert [r.getMessage() for r in caplog.records][0].startswith("full collection: ")
    assert caplog.records[0].getMessage().endswith(" ms, 7 unreachable objects found")


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
