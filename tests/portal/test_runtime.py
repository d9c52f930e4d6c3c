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
