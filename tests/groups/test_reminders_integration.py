"""Mandate reminders end to end: real Celery beat and worker, Redis, PostgreSQL and SMTP.

Beat runs the scan every 2 seconds; the worker sends through a real SMTP
server (aiosmtpd) in this process. Each recipient gets exactly one e-mail per
crossed threshold, however many scans run.
"""

import asyncio
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from groups.models import Mandate
from portal.models import Reminder
from tests.conftest import make_secretariat, need_service
from tests.factories import UserFactory
from tests.groups.factories import make_group

pytestmark = pytest.mark.services

BASE_DIR = Path(settings.BASE_DIR)
SCAN_SECONDS = 2
TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_answers(url: str) -> bool:
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def services_needed():
    need_service(
        connection.vendor == "postgresql",
        "needs PostgreSQL: set DATABASE_URL=postgres://… (the worker cannot see SQLite's "
        "in-memory test database)",
    )
    need_service(_redis_answers(settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://…/5")


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def _test_database_url() -> str:
    """DATABASE_URL with the name of pytest-django's test database."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class CeleryProcesses:
    def __init__(self, tmp_path: Path, smtp_port: int):
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.base",
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PORTAL_REMINDER_SCAN_SECONDS": str(SCAN_SECONDS),
            "PORTAL_VAR_DIR": str(tmp_path / "var"),
            "PYTHONUNBUFFERED": "1",
        }
        self.processes: list[subprocess.Popen] = []
        self.logs: dict[str, Path] = {}

    def start(self, name: str, *args: str) -> None:
        log = self.tmp_path / f"{name}.log"
        self.logs[name] = log
        with log.open("wb") as out:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "portal", *args],
                    cwd=BASE_DIR,
                    env=self.env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    def scans_done(self) -> int:
        return sum(
            "groups.tasks.scan_mandate_reminders[" in line and "succeeded" in line
            for line in self.log("worker").splitlines()
        )

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def celery_processes(services_needed, transactional_db, smtp_server, tmp_path):
    """A worker and a beat, as separate processes; always stopped, even when the test fails."""
    _mailbox, port = smtp_server
    processes = CeleryProcesses(tmp_path, port)
    try:
        yield processes
    finally:
        processes.stop()


def _wait_for(condition, what: str, processes: CeleryProcesses) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        for process in processes.processes:
            assert process.poll() is None, f"a Celery process died\n{_logs(processes)}"
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{_logs(processes)}")


def _logs(processes: CeleryProcesses) -> str:
    return "\n".join(f"--- {name} ---\n{processes.log(name)[-4000:]}" for name in processes.logs)


def test_beat_and_a_worker_send_each_crossed_reminder_once_over_smtp(celery_processes, smtp_server):
    mailbox, _port = smtp_server
    staff = make_secretariat(UserFactory(full_name="Sam Secretariat"))
    coordinator = UserFactory(full_name="Cora Coordinator")
    group = make_group(actor=staff, coordinators=[coordinator])
    today = timezone.localdate()
    # Term 1 ends in 25 days: the 90- and the 30-day thresholds are crossed.
    Mandate.objects.filter(group=group).update(
        start_date=today - timedelta(days=705), end_date=today + timedelta(days=25)
    )

    celery_processes.start(
        "worker",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--hostname=reminders-test@%h",
    )
    celery_processes.start(
        "beat", "beat", "--loglevel=INFO", f"--schedule={celery_processes.tmp_path / 'beat'}"
    )

    expected = 2 * 2  # two recipients, two crossed thresholds
    _wait_for(lambda: len(mailbox.messages) >= expected, "the reminders", celery_processes)
    scans = celery_processes.scans_done()
    _wait_for(
        lambda: celery_processes.scans_done() >= max(scans, 1) + 2,
        "two more scans",
        celery_processes,
    )
    time.sleep(1)  # anything queued by the last scan has had time to go out

    per_recipient = Counter(message["To"] for message in mailbox.messages)
    assert per_recipient == {coordinator.email: 2, staff.email: 2}, _logs(celery_processes)
    assert all(group.name in message["Subject"] for message in mailbox.messages)
    sent = Reminder.objects.filter(subject_type="mandate", sent_at__isnull=False)
    assert sorted(sent.values_list("threshold", "recipient_id")) == sorted(
        (t, u.pk) for t in (90, 30) for u in (coordinator, staff)
    )
    assert not Reminder.objects.filter(sent_at__isnull=True).exists()


class StallingMailbox(Mailbox):
    """Holds the SMTP conversation of one chosen message before it is complete, and says
    so: the test kills the worker right then, in the middle of sending that reminder."""

    def __init__(self, stall_at: int):
        super().__init__()
        self.stall_at = stall_at
        self.started = 0
        self.stalled = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        self.started += 1
        if self.started == self.stall_at:
            self.stalled.set()
            await asyncio.sleep(30)  # the worker dies meanwhile; its connection with it
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_worker_killed_while_sending_reminders_still_sends_each_exactly_once(
    services_needed, transactional_db, tmp_path
):
    from aiosmtpd.controller import Controller

    mailbox = StallingMailbox(stall_at=3)
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    processes = CeleryProcesses(tmp_path, controller.port)
    # A task the killed worker had taken goes back to the queue after 3 seconds.
    processes.env["PORTAL_BROKER_VISIBILITY_TIMEOUT"] = "3"
    processes.env["PORTAL_BROKER_RESTORE_SECONDS"] = "1"
    worker_args = (
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    )
    try:
        staff = [make_secretariat(UserFactory()) for _ in range(3)]
        coordinator = UserFactory()
        group = make_group(actor=staff[0], coordinators=[coordinator])
        today = timezone.localdate()
        Mandate.objects.filter(group=group).update(
            start_date=today - timedelta(days=705), end_date=today + timedelta(days=25)
        )
        recipients = [coordinator, *staff]
        expected = 2 * len(recipients)  # two crossed thresholds each

        processes.start("doomed", *worker_args, "--hostname=doomed@%h")
        processes.start("beat", "beat", "--loglevel=INFO", f"--schedule={tmp_path / 'beat'}")
        assert mailbox.stalled.wait(TIMEOUT), _logs(processes)
        doomed = processes.processes[0]
        doomed.send_signal(signal.SIGKILL)  # no chance to finish, acknowledge or mark sent
        doomed.wait(10)
        processes.processes.remove(doomed)
        processes.start("heir", *worker_args, "--hostname=heir@%h")

        _wait_for(lambda: len(mailbox.messages) >= expected, "every reminder", processes)
        time.sleep(2 * SCAN_SECONDS + 4)  # later scans and redeliveries send nothing more
        per_recipient = Counter(message["To"] for message in mailbox.messages)
        assert per_recipient == {u.email: 2 for u in recipients}, _logs(processes)
        assert not Reminder.objects.filter(sent_at__isnull=True).exists()
    finally:
        processes.stop()
        controller.stop()
