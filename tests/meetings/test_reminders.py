"""Meeting and poll reminders: claimed once per threshold and recipient, sent once, retried."""

import smtplib
from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from groups import services as group_services
from groups.models import ExpertGroup
from meetings import reminders, services
from meetings.reminders import meeting_reminder_send, meeting_reminders_scan, poll_reminder_send
from meetings.tasks import scan_meeting_reminders, send_meeting_reminder
from portal.models import Notification, NotificationPreference, Reminder
from tests.groups.factories import add_member, coordinator_of, make_group

from .factories import BRUSSELS, NOW, local, make_meeting, make_poll

pytestmark = pytest.mark.django_db

#: The meeting of most tests: Wednesday 10 March 2027, 10:00–12:00 in Brussels.
START = datetime(2027, 3, 10, 10, 0, tzinfo=BRUSSELS)


@pytest.fixture
def scan(django_capture_on_commit_callbacks):
    """Run the beat task at ``moment``; ``send=False`` drops the queued sends (a lost queue)."""

    def run(moment: datetime, *, send: bool = True) -> int:
        with (
            time_machine.travel(moment, tick=False),
            django_capture_on_commit_callbacks(execute=send),
        ):
            return scan_meeting_reminders.delay().get()

    return run


@pytest.fixture
def meeting(group, member):
    return make_meeting(group, starts_at=START, ends_at=START + timedelta(hours=2))


def mails_to(user) -> list:
    return [m for m in mail.outbox if m.to == [user.email]]


def claims(**filters) -> list[tuple]:
    return sorted(
        Reminder.objects.filter(subject_type="meeting", **filters).values_list(
            "threshold", "recipient_id"
        )
    )


# --- When meeting reminders go out -----------------------------------------


def test_reminders_go_out_24_hours_and_1_hour_before_exactly_once(group, member, meeting, scan):
    coordinator = coordinator_of(group)
    assert scan(START - timedelta(hours=24, minutes=1)) == 0
    assert scan(START - timedelta(hours=24)) == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([coordinator.email, member.email])
    assert all("Reminder: Spring plenary starts in 24 hours" in m.subject for m in mail.outbox)
    assert scan(START - timedelta(hours=24)) == 0  # the same run again
    assert scan(START - timedelta(hours=23, minutes=58)) == 0  # the next beat
    assert scan(START - timedelta(hours=2)) == 0
    assert len(mail.outbox) == 2

    assert scan(START - timedelta(minutes=60)) == 2
    assert all("starts in 1 hour" in m.subject for m in mail.outbox[2:])
    assert scan(START - timedelta(minutes=58)) == 0
    assert scan(START - timedelta(minutes=1)) == 0
    assert scan(START + timedelta(minutes=1)) == 0
    assert len(mail.outbox) == 4
    assert claims() == sorted((t, u.pk) for t in (1440, 60) for u in (coordinator, member))
    assert Reminder.objects.filter(sent_at__isnull=True).count() == 0
    assert Notification.objects.filter(user=member, title__startswith="Reminder:").count() == 2


def test_the_reminder_says_when_in_the_recipients_own_zone(group, meeting, scan):
    lisbon = add_member(group)
    lisbon.timezone = "Europe/Lisbon"
    lisbon.save()
    services.meeting_update(
        actor=coordinator_of(group),
        meeting=meeting,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        timezone_name=meeting.timezone,
        invitees=None,
    )
    scan(START - timedelta(hours=1))
    (message,) = mails_to(lisbon)
    assert "Wednesday 10 March 2027, 09:00–11:00 (Europe/Lisbon)" in message.body
    assert message.alternatives[0].mimetype == "text/html"


def test_invitees_who_declined_get_no_reminder_and_maybe_still_do(group, member, meeting, scan):
    maybe = add_member(group)
    services.meeting_update(
        actor=coordinator_of(group),
        meeting=meeting,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        timezone_name=meeting.timezone,
    )
    services.meeting_answer(actor=member, meeting=meeting, answer="no")
    services.meeting_answer(actor=maybe, meeting=meeting, answer="maybe")
    scan(START - timedelta(hours=24))
    assert mails_to(member) == []
    assert len(mails_to(maybe)) == 1


def test_declining_after_the_claim_stops_the_send(group, member, meeting, scan):
    scan(START - timedelta(hours=1), send=False)
    services.meeting_answer(actor=member, meeting=meeting, answer="no")
    claim = Reminder.objects.get(recipient=member)
    with time_machine.travel(START - timedelta(minutes=59), tick=False):
        assert meeting_reminder_send(reminder_id=claim.pk) is False
    assert mails_to(member) == []


def test_a_cancelled_meeting_gets_no_reminders(group, member, meeting, scan):
    services.meeting_cancel(actor=coordinator_of(group), meeting=meeting, reason="No quorum.")
    assert scan(START - timedelta(hours=1)) == 0
    assert Reminder.objects.count() == 0


def test_meetings_of_an_archived_group_get_no_reminders(
    group, member, meeting, scan, secretariat_user
):
    group_services.group_close(actor=secretariat_user, group=group, reason="Done early.")
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        group_services.group_archive(
            actor=secretariat_user, group=ExpertGroup.objects.get(pk=group.pk)
        )
    assert scan(START - timedelta(hours=1)) == 0


def test_after_a_missed_scan_only_the_current_threshold_is_sent(group, member, meeting, scan):
    # Beat was down for a day: the first scan runs 30 minutes before the start.
    assert scan(START - timedelta(minutes=30)) == 2
    assert claims() == sorted((60, u.pk) for u in (coordinator_of(group), member))
    assert all("starts in 30 minutes" in m.subject for m in mail.outbox)


def test_a_meeting_planned_at_short_notice_skips_the_reminders_already_past(
    group, member, scan, clock
):
    clock.move_to(datetime(2027, 3, 9, 20, 0, tzinfo=BRUSSELS))  # 14 hours before START
    make_meeting(group, starts_at=START, ends_at=START + timedelta(hours=1))
    assert scan(datetime(2027, 3, 9, 20, 2, tzinfo=BRUSSELS)) == 0
    assert scan(START - timedelta(hours=1)) == 2
    assert claims(threshold=1440) == []


def test_moving_a_meeting_makes_its_reminders_follow_the_new_time(
    group, member, meeting, scan, clock
):
    scan(START - timedelta(hours=24))
    assert len(mail.outbox) == 2
    clock.move_to(START - timedelta(hours=20))
    later = START + timedelta(days=2)
    services.meeting_update(
        actor=coordinator_of(group),
        meeting=meeting,
        title=meeting.title,
        starts_at=later,
        ends_at=later + timedelta(hours=2),
        timezone_name=meeting.timezone,
    )
    assert scan(START - timedelta(hours=1)) == 0
    assert scan(later - timedelta(hours=24)) == 2
    assert scan(later - timedelta(hours=1)) == 2
    assert len(mail.outbox) == 6


def test_a_24_hour_claim_left_unsent_is_dropped_once_the_1_hour_threshold_applies(
    group, member, meeting, scan
):
    assert scan(START - timedelta(hours=24), send=False) == 2
    day_claims = list(Reminder.objects.filter(threshold=1440).values_list("pk", flat=True))
    with time_machine.travel(START - timedelta(minutes=50), tick=False):
        assert all(meeting_reminder_send(reminder_id=pk) is False for pk in day_claims)
    assert scan(START - timedelta(minutes=50)) == 2
    assert all("starts in 50 minutes" in m.subject for m in mail.outbox)
    assert Reminder.objects.filter(threshold=1440, sent_at__isnull=True).count() == 2


# --- Exactly once ------------------------------------------------------------


def test_running_the_scan_twice_creates_and_sends_nothing_twice(meeting, scan):
    moment = START - timedelta(hours=24)
    assert scan(moment) == 2
    assert scan(moment) == 0
    assert Reminder.objects.count() == 2
    assert len(mail.outbox) == 2


def test_calling_the_send_task_twice_sends_one_email(member, meeting, scan):
    scan(START - timedelta(hours=1), send=False)
    claim = Reminder.objects.get(recipient=member)
    with time_machine.travel(START - timedelta(minutes=59), tick=False):
        assert send_meeting_reminder.delay(claim.pk).get() is True
        assert send_meeting_reminder.delay(claim.pk).get() is False
        assert meeting_reminder_send(reminder_id=claim.pk) is False
    assert len(mails_to(member)) == 1
    claim.refresh_from_db()
    assert claim.sent_at is not None
    assert claim.attempts == 1


def test_a_lost_task_is_queued_again_after_10_minutes_and_sent_once(meeting, scan):
    moment = START - timedelta(hours=24)
    assert scan(moment, send=False) == 2
    assert scan(moment + timedelta(minutes=4)) == 0
    assert mail.outbox == []
    assert scan(moment + timedelta(minutes=11)) == 2
    assert scan(moment + timedelta(minutes=30)) == 0
    assert len(mail.outbox) == 2


def _fail_once(monkeypatch, exc: Exception) -> list:
    real = reminders.send_calendar_email
    calls: list = []

    def flaky(**kwargs):
        calls.append(kwargs["to"])
        if len(calls) == 1:
            raise exc
        return real(**kwargs)

    monkeypatch.setattr(reminders, "send_calendar_email", flaky)
    return calls


def test_a_failed_send_leaves_the_claim_unsent_and_a_retry_sends_it_once(
    member, meeting, scan, monkeypatch
):
    scan(START - timedelta(hours=1), send=False)
    claim = Reminder.objects.get(recipient=member)
    _fail_once(monkeypatch, OSError("connection refused"))
    with time_machine.travel(START - timedelta(minutes=59), tick=False):
        with pytest.raises(OSError):
            meeting_reminder_send(reminder_id=claim.pk)
        claim.refresh_from_db()
        assert (claim.sent_at, claim.attempts) == (None, 1)
        assert not Notification.objects.filter(user=member, title__startswith="Reminder").exists()
        assert meeting_reminder_send(reminder_id=claim.pk) is True
        assert meeting_reminder_send(reminder_id=claim.pk) is False
    claim.refresh_from_db()
    assert claim.attempts == 2
    assert len(mails_to(member)) == 1


def test_the_send_task_retries_after_a_mail_server_error(member, meeting, scan, monkeypatch):
    scan(START - timedelta(hours=1), send=False)
    claim = Reminder.objects.get(recipient=member)
    calls = _fail_once(monkeypatch, smtplib.SMTPServerDisconnected("gone"))
    with time_machine.travel(START - timedelta(minutes=59), tick=False):
        result = send_meeting_reminder.apply(args=[claim.pk], throw=False)
    assert result.get() is True
    assert len(calls) == 2
    assert len(mails_to(member)) == 1


def test_a_member_who_chose_no_meeting_emails_gets_the_reminder_in_the_portal_only(
    member, meeting, scan
):
    NotificationPreference.objects.create(user=member, category="meetings", delivery="off")
    scan(START - timedelta(hours=1))
    assert mails_to(member) == []
    note = Notification.objects.get(user=member, title__startswith="Reminder")
    assert note.emailed_at is None
    assert Reminder.objects.get(recipient=member).sent_at is not None


def test_the_thresholds_are_configurable(settings, member, meeting, scan):
    settings.MEETING_REMINDER_MINUTES = [180]
    assert scan(START - timedelta(hours=24)) == 0
    assert scan(START - timedelta(hours=3)) == 2
    assert claims(threshold=180)


# --- Poll reminders ----------------------------------------------------------


def test_poll_reminders_go_to_members_who_have_not_answered_once(group, member, scan, commit):
    quick = add_member(group)
    with commit():
        poll = make_poll(group, closes_at=local(2027, 3, 6, 18, 0))
    mail.outbox.clear()
    services.poll_vote(actor=quick, poll=poll, choices={poll.slots.first().pk: "yes"})
    closes = datetime(2027, 3, 6, 18, 0, tzinfo=BRUSSELS)
    assert scan(closes - timedelta(hours=25)) == 0
    assert scan(closes - timedelta(hours=24)) == 2  # the coordinator and the member
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [coordinator_of(group).email, member.email]
    )
    assert all("Voting closes in 24 hours" in m.subject for m in mail.outbox)
    assert poll.get_absolute_url() in mail.outbox[0].body
    assert scan(closes - timedelta(hours=23)) == 0
    assert scan(closes - timedelta(hours=1)) == 0
    assert len(mail.outbox) == 2


def test_a_member_who_answers_after_the_claim_is_not_reminded(group, member, scan):
    poll = make_poll(group, closes_at=local(2027, 3, 6, 18, 0))
    closes = datetime(2027, 3, 6, 18, 0, tzinfo=BRUSSELS)
    scan(closes - timedelta(hours=24), send=False)
    services.poll_vote(actor=member, poll=poll, choices={poll.slots.first().pk: "no"})
    claim = Reminder.objects.get(subject_type="poll", recipient=member)
    with time_machine.travel(closes - timedelta(hours=23), tick=False):
        assert poll_reminder_send(reminder_id=claim.pk) is False


def test_a_decided_poll_gets_no_reminders(group, member, scan):
    poll = make_poll(group, closes_at=local(2027, 3, 6, 18, 0))
    services.poll_close(actor=coordinator_of(group), poll=poll, slot_id=poll.slots.first().pk)
    assert scan(datetime(2027, 3, 6, 17, 0, tzinfo=BRUSSELS)) == 0
    assert not Reminder.objects.filter(subject_type="poll").exists()


# --- Cost of the scan --------------------------------------------------------


def test_the_scan_issues_a_fixed_number_of_queries_per_batch(settings, group, member, clock):
    settings.REMINDER_SCAN_BATCH = 5
    others = [add_member(group) for _ in range(3)]
    assert others

    def queries_for(n_meetings: int) -> int:
        Reminder.objects.all().delete()
        from meetings.models import Meeting

        Meeting.objects.all().delete()
        for i in range(n_meetings):
            make_meeting(group, starts_at=START + timedelta(minutes=i), title=f"M{i}")
        with (
            time_machine.travel(START - timedelta(hours=2), tick=False),
            CaptureQueriesContext(connection) as ctx,
        ):
            meeting_reminders_scan()
        return len(ctx.captured_queries)

    one, two, three = (queries_for(n) for n in (4, 9, 14))
    per_batch = two - one
    assert per_batch == three - two  # grows with batches, not with meetings or invitees
    # due meetings, their invitees, existing claims, insert, savepoint, locked read, update,
    # release
    assert per_batch <= 8
    assert Reminder.objects.count() == 14 * 5


def test_an_invitee_who_left_the_group_is_not_reminded(group, member, meeting, scan):
    group_services.membership_leave(actor=member, group=group)
    assert scan(START - timedelta(hours=1)) == 1
    assert mails_to(member) == []


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_meeting_reminder_at_once_send_one_email(monkeypatch):
    import threading
    import time as wall_clock

    from django.db import connections
    from django.utils import timezone

    from tests.conftest import need_service

    need_service(
        connection.vendor == "postgresql",
        "row locks need PostgreSQL: set DATABASE_URL=postgres://… (SQLite has no SELECT … FOR "
        "UPDATE)",
    )
    monkeypatch.setattr(reminders, "_queue_sends", lambda subject_type, ids: None)
    group = make_group()
    member = add_member(group)
    start = timezone.now() + timedelta(minutes=30)
    meeting = make_meeting(group, starts_at=start, ends_at=start + timedelta(hours=1))
    type(meeting).objects.filter(pk=meeting.pk).update(times_set_at=start - timedelta(days=3))
    assert meeting_reminders_scan() == 2
    claim = Reminder.objects.get(recipient=member)

    real = reminders.send_calendar_email

    def slow_send(**kwargs):
        wall_clock.sleep(0.5)  # hold the row lock while the other worker arrives
        real(**kwargs)

    monkeypatch.setattr(reminders, "send_calendar_email", slow_send)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def worker():
        try:
            barrier.wait()
            results.append(meeting_reminder_send(reminder_id=claim.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [False, True]
    assert len([m for m in mails_to(member) if "Reminder:" in m.subject]) == 1
