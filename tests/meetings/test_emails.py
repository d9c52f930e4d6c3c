"""Invitation, update and cancellation e-mails: claimed, sent once, retried after a failure."""

import smtplib
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from icalendar import Calendar

from meetings import mail as meeting_mail
from meetings import services
from meetings.models import MeetingEmail
from meetings.services import CANCELLATION, INVITATION, UPDATE
from meetings.tasks import send_meeting_email
from portal.models import Notification, NotificationPreference
from tests.conftest import need_service
from tests.groups.factories import add_member, coordinator_of, make_group

from .factories import make_meeting

pytestmark = pytest.mark.django_db


def mails_to(user) -> list:
    return [m for m in mail.outbox if m.to == [user.email]]


def sequences_sent_to(user) -> list[int]:
    found = []
    for message in mails_to(user):
        (attachment,) = [a for a in message.attachments if a.filename == "invite.ics"]
        (event,) = Calendar.from_ical(attachment.content).events
        found.append(event["SEQUENCE"])
    return found


def fail_once(monkeypatch, exc: Exception) -> list:
    real = meeting_mail.send_calendar_email
    calls: list = []

    def flaky(**kwargs):
        calls.append(kwargs["to"])
        if len(calls) == 1:
            raise exc
        return real(**kwargs)

    monkeypatch.setattr(meeting_mail, "send_calendar_email", flaky)
    return calls


@pytest.fixture
def meeting(group, member, django_capture_on_commit_callbacks):
    """Scheduled with its invitations queued but not sent (the queue is the test's)."""
    with django_capture_on_commit_callbacks(execute=False):
        return make_meeting(group)


def send(meeting, user, kind=INVITATION) -> bool:
    return meeting_mail.meeting_email_send(meeting_id=meeting.pk, user_id=user.pk, kind=kind)


def test_the_same_email_task_run_twice_sends_one_email(member, meeting):
    assert send(meeting, member) is True
    assert send(meeting, member) is False  # redelivered after the worker died before its ack
    assert send_meeting_email.delay(meeting.pk, member.pk, INVITATION).get() is False
    assert len(mails_to(member)) == 1
    assert Notification.objects.filter(user=member, category="meetings").count() == 1
    claim = MeetingEmail.objects.get(recipient=member)
    assert (claim.meeting_id, claim.sequence, claim.kind) == (meeting.pk, 0, INVITATION)
    assert claim.sent_at is not None
    assert claim.attempts == 1


def test_a_failed_send_leaves_the_claim_unsent_and_the_retry_sends_it_once(
    member, meeting, monkeypatch
):
    fail_once(monkeypatch, OSError("connection refused"))
    with pytest.raises(OSError):
        send(meeting, member)
    claim = MeetingEmail.objects.get(recipient=member)
    assert (claim.sent_at, claim.attempts) == (None, 1)
    assert not Notification.objects.filter(user=member, category="meetings").exists()
    assert mails_to(member) == []

    assert send(meeting, member) is True
    assert send(meeting, member) is False
    claim.refresh_from_db()
    assert claim.sent_at is not None
    assert claim.attempts == 2
    assert len(mails_to(member)) == 1
    assert Notification.objects.filter(user=member, category="meetings").count() == 1


def test_the_email_task_retries_after_a_mail_server_error_and_sends_once(
    member, meeting, monkeypatch
):
    calls = fail_once(monkeypatch, smtplib.SMTPServerDisconnected("gone"))
    result = send_meeting_email.apply(args=[meeting.pk, member.pk, INVITATION], throw=False)
    assert result.get() is True
    assert len(calls) == 2
    assert len(mails_to(member)) == 1
    # A late duplicate of the task (acks_late redelivery) sends nothing more.
    assert send_meeting_email.apply(args=[meeting.pk, member.pk, INVITATION]).get() is False
    assert len(mails_to(member)) == 1


def test_each_sequence_and_kind_is_its_own_email(group, member, meeting, commit):
    assert send(meeting, member) is True
    with commit():
        services.meeting_update(
            actor=coordinator_of(group),
            meeting=meeting,
            title="Renamed plenary",
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
        )
    with commit():
        services.meeting_cancel(actor=coordinator_of(group), meeting=meeting, reason="No quorum.")
    assert sequences_sent_to(member) == [0, 1, 2]
    assert sorted(
        MeetingEmail.objects.filter(recipient=member).values_list("sequence", "kind")
    ) == [(0, INVITATION), (1, UPDATE), (2, CANCELLATION)]
    assert send(meeting, member, CANCELLATION) is False
    assert len(mails_to(member)) == 3


def test_two_updates_delivered_late_send_the_latest_version_once(
    group, member, meeting, django_capture_on_commit_callbacks
):
    send(meeting, member)
    queued = []
    for title in ("Renamed once", "Renamed twice"):
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.meeting_update(
                actor=coordinator_of(group),
                meeting=meeting,
                title=title,
                starts_at=meeting.starts_at,
                ends_at=meeting.ends_at,
                timezone_name=meeting.timezone,
            )
        queued += callbacks
    for callback in queued:  # the worker was down; both updates go out now
        callback()
    assert sequences_sent_to(member) == [0, 2]
    assert "Renamed twice" in mails_to(member)[-1].subject


def test_a_member_without_meeting_emails_gets_one_notification_however_often_it_runs(
    member, meeting
):
    NotificationPreference.objects.create(user=member, category="meetings", delivery="off")
    assert send(meeting, member) is True
    assert send(meeting, member) is False
    assert mails_to(member) == []
    assert Notification.objects.filter(user=member, category="meetings").count() == 1
    assert MeetingEmail.objects.get(recipient=member).sent_at is not None


def test_an_email_that_no_longer_applies_takes_no_claim(group, member, meeting):
    services.meeting_cancel(actor=coordinator_of(group), meeting=meeting, reason="Called off.")
    assert send(meeting, member, INVITATION) is False
    assert not MeetingEmail.objects.filter(kind=INVITATION).exists()


def test_an_unknown_kind_is_a_programming_error(member, meeting):
    with pytest.raises(ValueError, match="unknown meeting e-mail kind"):
        send(meeting, member, "postcard")


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_invitation_at_once_send_one_email(monkeypatch):
    import threading
    import time as wall_clock

    from django.db import connections
    from django.utils import timezone

    need_service(
        connection.vendor == "postgresql",
        "row locks need PostgreSQL: set DATABASE_URL=postgres://… (SQLite has no SELECT … FOR "
        "UPDATE)",
    )
    monkeypatch.setattr(services, "_send_emails", lambda meeting_id, user_ids, kind: None)
    group = make_group()
    member = add_member(group)
    start = timezone.now() + timedelta(days=3)
    meeting = make_meeting(group, starts_at=start, ends_at=start + timedelta(hours=1))

    real = meeting_mail.send_calendar_email

    def slow_send(**kwargs):
        wall_clock.sleep(0.5)  # hold the claim's row lock while the other worker arrives
        real(**kwargs)

    monkeypatch.setattr(meeting_mail, "send_calendar_email", slow_send)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def worker():
        try:
            barrier.wait()
            results.append(send(meeting, member))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [False, True]
    assert len(mails_to(member)) == 1
    assert MeetingEmail.objects.get(recipient=member).sent_at is not None
