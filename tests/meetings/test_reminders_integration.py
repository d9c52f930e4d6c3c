"""Meeting reminders end to end: real Celery beat and worker, Redis, PostgreSQL and SMTP.

Like ``tests/groups/test_reminders_integration.py`` for the mandates: beat
runs the meeting scan every 2 seconds, the worker sends through a real SMTP
server (aiosmtpd) in this process. Each invitee who has not declined gets
exactly one e-mail for the crossed threshold, however many scans run.

The worker reads pytest-django's test database (``DATABASE_URL`` with the
test database's name) and talks to Redis database 10 on the server of
``REDIS_URL`` (the meetings' own, so that nothing left in another test's queue
reaches this worker). Without PostgreSQL and Redis the test skips; in CI
(``PORTAL_REQUIRE_SERVICES=1``) it fails.
"""

import email
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from groups import services as group_services
from meetings import services
from meetings.models import Meeting
from portal.models import Reminder
from tests.conftest import need_service
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

from .factories import make_meeting

pytestmark = pytest.mark.services

BASE_DIR = Path(settings.BASE_DIR)
REDIS_DB = 10
SCAN_SECONDS = 2
TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_url() -> str:
    """``REDIS_URL`` pointing at the meetings' own database number."""
    if not settings.REDIS_URL:
        return ""
    return urlunsplit(urlsplit(settings.REDIS_URL)._replace(path=f"/{REDIS_DB}"))


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

    def reminders(self) -> list[email.message.Message]:
        return [m for m in self.messages if "Reminder:" in str(m["Subject"])]


@pytest.fixture
def services_needed():
    need_service(
        connection.vendor == "postgresql",
        "needs PostgreSQL: set DATABASE_URL=postgres://… (the worker cannot see SQLite's "
        "in-memory test database)",
    )
    need_service(_redis_answers(_redis_url()), "needs Redis: set REDIS_URL=redis://…")


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
            "REDIS_URL": _redis_url(),
            "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PORTAL_MEETING_REMINDER_SCAN_SECONDS": str(SCAN_SECONDS),
            "PORTAL_REMINDER_SCAN_SECONDS": "3600",
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
            "meetings.tasks.scan_meeting_reminders[" in line and "succeeded" in line
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
    import redis

    # Database 10 is this test's own: drop whatever an interrupted earlier run left queued.
    redis.Redis.from_url(_redis_url()).flushdb()
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


def test_beat_and_a_worker_send_each_meeting_reminder_once_over_smtp(celery_processes, smtp_server):
    mailbox, _port = smtp_server
    group = make_group(coordinators=[UserFactory(full_name="Cora Coordinator")])
    coordinator = coordinator_of(group)
    member = add_member(group, UserFactory(full_name="Mira Member"))
    decliner = add_member(group, UserFactory(full_name="Dan Decliner"))
    # Starts in 30 minutes: the one-hour threshold is the current one.
    start = (timezone.now() + timedelta(minutes=30)).replace(microsecond=0)
    meeting = make_meeting(
        group, title="Quarterly review", starts_at=start, ends_at=start + timedelta(hours=1)
    )
    # Planned three days ago, so the reminder is due (not skipped as "just invited").
    Meeting.objects.filter(pk=meeting.pk).update(times_set_at=start - timedelta(days=3))
    services.meeting_answer(actor=decliner, meeting=meeting, answer="no")
    # Joins after the meeting was scheduled: invited then, reminded like the others.
    late = UserFactory(full_name="Lena Late")
    request = group_services.membership_request(
        actor=late, group=group, motivation="I coordinate the regional probation data."
    )
    group_services.membership_approve(actor=coordinator, membership=request)

    celery_processes.start(
        "worker",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "--hostname=meeting-reminders-test@%h",
    )
    celery_processes.start(
        "beat", "beat", "--loglevel=INFO", f"--schedule={celery_processes.tmp_path / 'beat'}"
    )

    expected = {coordinator.email: 1, member.email: 1, late.email: 1}
    _wait_for(lambda: len(mailbox.reminders()) >= len(expected), "the reminders", celery_processes)
    scans = celery_processes.scans_done()
    _wait_for(
        lambda: celery_processes.scans_done() >= max(scans, 1) + 2,
        "two more scans",
        celery_processes,
    )
    time.sleep(1)  # anything queued by the last scan has had time to go out

    per_recipient = Counter(message["To"] for message in mailbox.reminders())
    assert per_recipient == expected, _logs(celery_processes)
    assert all("Quarterly review" in str(m["Subject"]) for m in mailbox.reminders())
    sent = Reminder.objects.filter(subject_type="meeting", subject_id=meeting.pk)
    assert sorted(sent.values_list("threshold", "recipient_id")) == sorted(
        (60, u.pk) for u in (coordinator, member, late)
    )
    assert not sent.filter(sent_at__isnull=True).exists()
