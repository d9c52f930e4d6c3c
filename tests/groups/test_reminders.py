"""Mandate reminders: claimed once per recipient and threshold, sent once, retried on failure."""

import threading
import time as wall_clock
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from groups import reminders, services
from groups.models import ExpertGroup, Invitation, Mandate, Membership
from groups.reminders import mandate_reminder_send, mandate_reminders_scan
from groups.tasks import send_invitation_email, send_mandate_reminder
from portal.models import Notification, NotificationPreference, Reminder
from tests.conftest import make_secretariat, need_service
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
START = date(2026, 1, 10)
END = date(2028, 1, 10)  # term 1 of a group started on START


def on(day: date, minute: int = 0):
    """Freeze the clock at 9:``minute`` in Brussels on ``day``."""
    moment = datetime.combine(day, time(9, minute), tzinfo=BRUSSELS)
    return time_machine.travel(moment, tick=False)


def days_before_end(days: int, end: date = END) -> date:
    return end - timedelta(days=days)


@pytest.fixture
def scan(django_capture_on_commit_callbacks):
    """Run the scan on a day; ``send=False`` drops the queued tasks (a lost queue)."""

    def run(day: date, *, send: bool = True, minute: int = 0) -> int:
        with on(day, minute), django_capture_on_commit_callbacks(execute=send):
            return mandate_reminders_scan()

    return run


@pytest.fixture
def group(secretariat_user):
    with on(START):
        return make_group(start=START, actor=secretariat_user, slug="probation-data")


def mails_to(user) -> list:
    return [m for m in mail.outbox if m.to == [user.email]]


def html_of(message) -> str:
    return message.alternatives[0].content


def claims(**filters) -> list[tuple[int, int]]:
    return sorted(
        Reminder.objects.filter(subject_type="mandate", **filters).values_list(
            "threshold", "recipient_id"
        )
    )


def fresh(group) -> ExpertGroup:
    return ExpertGroup.objects.get(pk=group.pk)


def extend(group, staff) -> None:
    """Term 1 → term 2, through the real services."""
    with on(days_before_end(100)):
        request = services.extension_request(
            actor=coordinator_of(group),
            group=fresh(group),
            justification="We have a second study to finish and to publish next year.",
        )
        services.extension_decide(actor=staff, request=request, approve=True)


# --- When reminders go out ---------------------------------------------------


def test_reminders_go_out_at_90_30_and_7_days_and_when_the_term_ends(group, secretariat_user, scan):
    coordinator = coordinator_of(group)
    assert scan(days_before_end(91)) == 0
    assert mail.outbox == []

    expected = {90: "ends in 90 days", 30: "ends in 30 days", 7: "ends in 7 days"}
    for threshold, phrase in expected.items():
        mail.outbox.clear()
        assert scan(days_before_end(threshold)) == 2
        assert sorted(m.to[0] for m in mail.outbox) == sorted(
            [coordinator.email, secretariat_user.email]
        )
        assert all(phrase in m.subject for m in mail.outbox)
        mail.outbox.clear()
        assert scan(days_before_end(threshold - 1)) == 0  # the day after: nothing new
        assert mail.outbox == []

    assert scan(END) == 2
    assert all("has ended" in m.subject for m in mail.outbox)
    assert claims() == sorted(
        (t, u.pk) for t in (90, 30, 7, 0) for u in (coordinator, secretariat_user)
    )
    assert Reminder.objects.filter(sent_at__isnull=True).count() == 0
    assert Notification.objects.filter(user=coordinator, category="mandate").count() == 4


def test_one_reminder_per_recipient_and_threshold_when_a_coordinator_is_also_secretariat(
    secretariat_user, scan
):
    both = make_secretariat(UserFactory())
    other = UserFactory()
    with on(START):
        make_group(start=START, actor=secretariat_user, coordinators=[both, other])
    scan(days_before_end(30))
    # 90 and 30 are crossed: two reminders each for `both`, `other` and the secretariat user.
    assert len(mails_to(both)) == 2
    assert len(mails_to(other)) == 2
    assert len(mails_to(secretariat_user)) == 2
    assert len(mail.outbox) == 6


def test_running_the_scan_twice_creates_and_sends_nothing_twice(group, scan):
    day = days_before_end(30)
    assert scan(day) == 4
    assert scan(day) == 0
    assert scan(day, minute=59) == 0
    assert Reminder.objects.count() == 4
    assert len(mail.outbox) == 4


def test_calling_the_send_task_twice_sends_one_email(group, scan):
    scan(days_before_end(90), send=False)
    reminder = Reminder.objects.filter(recipient=coordinator_of(group)).get()
    with on(days_before_end(90)):
        assert send_mandate_reminder.delay(reminder.pk).get() is True
        assert send_mandate_reminder.delay(reminder.pk).get() is False
        assert mandate_reminder_send(reminder_id=reminder.pk) is False
    assert len(mail.outbox) == 1
    reminder.refresh_from_db()
    assert reminder.sent_at is not None
    assert reminder.attempts == 1


def _fail_once(monkeypatch, exc: Exception) -> list:
    real = reminders.send_templated_email
    calls: list = []

    def flaky(**kwargs):
        calls.append(kwargs["to"])
        if len(calls) == 1:
            raise exc
        return real(**kwargs)

    monkeypatch.setattr(reminders, "send_templated_email", flaky)
    return calls


def test_a_failed_send_leaves_the_claim_unsent_and_a_later_send_sends_it_once(
    group, scan, monkeypatch
):
    scan(days_before_end(90), send=False)
    reminder = Reminder.objects.filter(recipient=coordinator_of(group)).get()
    _fail_once(monkeypatch, OSError("connection refused"))
    with on(days_before_end(90)):
        with pytest.raises(OSError):
            mandate_reminder_send(reminder_id=reminder.pk)
        reminder.refresh_from_db()
        assert (reminder.sent_at, reminder.attempts) == (None, 1)
        assert not Notification.objects.filter(user=reminder.recipient).exists()
        assert mail.outbox == []

        assert mandate_reminder_send(reminder_id=reminder.pk) is True
        assert mandate_reminder_send(reminder_id=reminder.pk) is False
    reminder.refresh_from_db()
    assert reminder.sent_at is not None
    assert reminder.attempts == 2
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(user=reminder.recipient).count() == 1


def test_the_send_task_retries_after_a_mail_server_error(group, scan, monkeypatch):
    import smtplib

    scan(days_before_end(90), send=False)
    reminder = Reminder.objects.filter(recipient=coordinator_of(group)).get()
    calls = _fail_once(monkeypatch, smtplib.SMTPServerDisconnected("gone"))
    with on(days_before_end(90)):
        # apply() runs Celery's retry inline (no countdown): the second attempt sends.
        result = send_mandate_reminder.apply(args=[reminder.pk], throw=False)
    assert result.get() is True
    assert len(calls) == 2
    assert len(mail.outbox) == 1
    reminder.refresh_from_db()
    assert reminder.sent_at is not None


def test_missed_scans_catch_up_with_every_crossed_threshold_once(group, secretariat_user, scan):
    coordinator = coordinator_of(group)
    assert scan(days_before_end(95)) == 0
    # Beat was down from 95 days before the end until 25 days before: both the 90-
    # and the 30-day thresholds were crossed meanwhile.
    assert scan(days_before_end(25)) == 4
    assert claims() == sorted((t, u.pk) for t in (90, 30) for u in (coordinator, secretariat_user))
    assert len(mails_to(coordinator)) == 2
    assert len(mails_to(secretariat_user)) == 2
    assert scan(days_before_end(24)) == 0
    assert scan(days_before_end(5)) == 2  # and the 7-day one later, once
    assert len(mail.outbox) == 6


def test_a_scan_missed_by_40_days_after_the_90_day_threshold_sends_that_reminder(group, scan):
    assert scan(days_before_end(50)) == 2
    assert claims(threshold=90) and not claims(threshold=30)
    assert scan(days_before_end(30)) == 2
    assert len(mail.outbox) == 4


def test_a_lost_task_is_queued_again_after_15_minutes_and_sent_once(group, scan):
    day = days_before_end(90)
    assert scan(day, send=False) == 2  # queued, but the broker lost the tasks
    assert scan(day, minute=5) == 0  # queued a moment ago: left alone
    assert mail.outbox == []
    assert scan(day, minute=16) == 2
    assert len(mail.outbox) == 2
    assert scan(day, minute=40) == 0
    assert len(mail.outbox) == 2


def test_a_days_before_reminder_still_unsent_when_the_term_ends_is_dropped(group, scan):
    scan(days_before_end(7), send=False)
    seven = list(Reminder.objects.filter(threshold=7).values_list("pk", flat=True))
    assert len(seven) == 2
    with on(END):
        assert all(mandate_reminder_send(reminder_id=pk) is False for pk in seven)
    # At the end only the "has ended" reminders are queued; the 7-day ones stay unsent.
    assert scan(END + timedelta(days=1)) == 2
    assert all("has ended" in m.subject for m in mail.outbox)
    assert Reminder.objects.filter(threshold=7, sent_at__isnull=True).count() == 2


def test_archived_groups_and_long_ended_mandates_get_no_reminders(group, secretariat_user, scan):
    assert scan(END + timedelta(days=61)) == 0
    with on(END + timedelta(days=1)):
        services.group_archive(actor=secretariat_user, group=fresh(group))
    assert scan(END + timedelta(days=2)) == 0
    assert Reminder.objects.count() == 0


def test_an_extended_term_one_gets_no_end_reminders_and_term_two_gets_its_own(
    group, secretariat_user, scan
):
    extend(group, secretariat_user)
    assert scan(days_before_end(30)) == 0
    assert scan(END) == 0
    term2 = Mandate.objects.get(group=group, term=2)
    assert scan(days_before_end(30, term2.end_date)) == 4  # 90 and 30 of term 2
    assert set(Reminder.objects.values_list("subject_id", flat=True)) == {term2.pk}


def test_the_scan_walks_every_mandate_in_batches(secretariat_user, scan, settings):
    settings.REMINDER_SCAN_BATCH = 2
    with on(START):
        groups = [make_group(start=START, actor=secretariat_user) for _ in range(5)]
    assert scan(days_before_end(90)) == 10
    assert set(Reminder.objects.values_list("subject_id", flat=True)) == {
        g.mandates.get().pk for g in groups
    }


def test_the_scan_ends_unconfirmed_memberships_when_term_two_starts(group, secretariat_user, scan):
    member = add_member(group)
    extend(group, secretariat_user)
    scan(END - timedelta(days=1))
    assert Membership.objects.filter(user=member, group=group, state="active").exists()
    scan(END)
    assert not Membership.objects.filter(user=member, group=group, state="active").exists()


# --- What reminders say ----------------------------------------------------


def test_term_one_reminders_offer_the_one_extension(group, secretariat_user, scan):
    coordinator = coordinator_of(group)
    scan(days_before_end(30), send=False)
    with on(days_before_end(30)):
        for reminder in Reminder.objects.filter(threshold=30):
            mandate_reminder_send(reminder_id=reminder.pk)
    extension_path = reverse("groups:extension_request", kwargs={"slug": group.slug})

    (to_coordinator,) = mails_to(coordinator)
    assert "extended once" in to_coordinator.body
    assert "Request the extension" in to_coordinator.body
    assert "http://localhost:8000" + extension_path in to_coordinator.body
    assert extension_path in html_of(to_coordinator)
    assert "as a coordinator" in to_coordinator.body

    (to_staff,) = mails_to(secretariat_user)
    assert "The coordinators can request the one extension" in to_staff.body
    assert extension_path not in to_staff.body
    assert "member of the secretariat" in to_staff.body

    note = Notification.objects.get(user=coordinator)
    assert (note.category, note.url) == ("mandate", extension_path)
    assert "ends in 30 days" in note.title
    assert note.emailed_at is not None


def test_a_pending_extension_request_is_mentioned_instead_of_offered(group, secretariat_user, scan):
    scan(days_before_end(90))
    mail.outbox.clear()
    with on(days_before_end(40)):
        services.extension_request(
            actor=coordinator_of(group),
            group=fresh(group),
            justification="We have a second study to finish and to publish next year.",
        )
    scan(days_before_end(30))
    assert len(mail.outbox) == 2
    for message in mail.outbox:
        assert "waiting for the secretariat" in message.body
        assert "/extension/" not in message.body
    (to_staff,) = mails_to(secretariat_user)
    assert reverse("groups:secretariat_dashboard") in to_staff.body


def test_term_two_reminders_are_about_preparing_the_closure(group, secretariat_user, scan):
    extend(group, secretariat_user)
    term2 = Mandate.objects.get(group=group, term=2)
    scan(days_before_end(7, term2.end_date))
    assert len(mail.outbox) == 6  # 90, 30 and 7 days, to two people
    for message in mail.outbox:
        assert "second and last term" in message.body
        assert "Prepare the closure" in message.body
        assert "/extension/" not in message.body


def test_the_ended_reminder_says_the_group_is_read_only_and_can_be_archived(
    group, secretariat_user, scan
):
    scan(END + timedelta(days=3))  # a few days late
    (to_coordinator,) = mails_to(coordinator_of(group))
    (to_staff,) = mails_to(secretariat_user)
    for message in (to_coordinator, to_staff):
        assert "has ended" in message.subject
        assert "read-only" in message.body
        assert "archive" in message.body
    assert "You can now archive the group" in to_staff.body


def test_the_reminder_is_written_in_the_recipients_language(secretariat_user, scan):
    francophone = UserFactory(language="fr", full_name="Camille Martin")
    with on(START):
        group = make_group(start=START, actor=secretariat_user, coordinators=[francophone])
    scan(days_before_end(90))
    (message,) = mails_to(francophone)
    with translation.override("fr"):
        subject = ngettext(
            "The mandate of %(group)s ends in %(days)d day",
            "The mandate of %(group)s ends in %(days)d days",
            90,
        ) % {"group": group.name, "days": 90}
        greeting = gettext("Hello %(name)s,") % {"name": "Camille"}
    assert message.subject.endswith(subject)
    assert greeting in message.body
    # Language-independent proof: dates use Django's French month names, the HTML says fr.
    assert "10 janvier 2028" in message.body
    assert 'lang="fr"' in html_of(message)
    assert Notification.objects.get(user=francophone).title == subject
    (english,) = mails_to(secretariat_user)
    assert "Jan. 10, 2028" in english.body


def test_mandate_emails_follow_the_recipients_notification_preference(group, scan):
    coordinator = coordinator_of(group)
    NotificationPreference.objects.create(user=coordinator, category="mandate", delivery="off")
    scan(days_before_end(90))
    assert mails_to(coordinator) == []
    note = Notification.objects.get(user=coordinator)
    assert note.emailed_at is None
    assert Reminder.objects.get(recipient=coordinator).sent_at is not None


# --- Performance and concurrency ------------------------------------------


def test_the_scan_issues_as_many_queries_for_50_groups_as_for_5(
    secretariat_user, django_capture_on_commit_callbacks
):
    def groups(n: int) -> None:
        with on(START):
            for _ in range(n):
                make_group(start=START, actor=secretariat_user)

    def queries_of_scan() -> int:
        Reminder.objects.all().delete()
        with (
            on(days_before_end(25)),
            django_capture_on_commit_callbacks(execute=False) as queued,
            CaptureQueriesContext(connection) as ctx,
        ):
            mandate_reminders_scan()
        assert len(queued) == 1  # one batch, one on-commit that queues its tasks
        return len(ctx.captured_queries)

    groups(5)
    with_5 = queries_of_scan()
    assert Reminder.objects.count() == 5 * 2 * 2
    groups(45)
    with_50 = queries_of_scan()
    assert Reminder.objects.count() == 50 * 2 * 2
    assert with_50 == with_5
    assert with_5 <= 10


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_reminder_at_once_send_one_email(monkeypatch):
    need_service(
        connection.vendor == "postgresql",
        "row locks need PostgreSQL: set DATABASE_URL=postgres://… (SQLite has no SELECT … FOR "
        "UPDATE)",
    )
    monkeypatch.setattr(reminders, "_queue_sends", lambda ids: None)
    staff = make_secretariat(UserFactory())
    group = make_group(actor=staff)
    Mandate.objects.filter(group=group).update(end_date=timezone.localdate() + timedelta(days=20))
    mandate_reminders_scan()
    reminder = Reminder.objects.filter(recipient=coordinator_of(group), threshold=30).get()

    real = reminders.send_templated_email

    def slow_send(**kwargs):
        wall_clock.sleep(0.5)  # hold the row lock while the other worker arrives
        real(**kwargs)

    monkeypatch.setattr(reminders, "send_templated_email", slow_send)
    start = threading.Barrier(2)
    results: list[bool] = []

    def worker():
        try:
            start.wait()
            results.append(mandate_reminder_send(reminder_id=reminder.pk))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1
    reminder.refresh_from_db()
    assert reminder.sent_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_claim_and_queue_each_reminder_once(monkeypatch):
    need_service(
        connection.vendor == "postgresql",
        "row locks need PostgreSQL: set DATABASE_URL=postgres://… (SQLite has no SELECT … FOR "
        "UPDATE … SKIP LOCKED, and one writer at a time)",
    )
    staff = make_secretariat(UserFactory())
    groups = [make_group(actor=staff) for _ in range(3)]
    Mandate.objects.filter(group__in=groups).update(
        end_date=timezone.localdate() + timedelta(days=20)
    )
    queued: list[int] = []
    lock = threading.Lock()

    def record(ids):
        with lock:
            queued.extend(ids)

    monkeypatch.setattr(reminders, "_queue_sends", record)
    real_partial = reminders.partial

    def slow_partial(*args):
        # Called under the row locks, just before commit: hold them while the other
        # scan arrives, so that it meets locked claims and must skip them.
        wall_clock.sleep(0.3)
        return real_partial(*args)

    monkeypatch.setattr(reminders, "partial", slow_partial)
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def scan_in_a_worker():
        try:
            start.wait()
            results.append(mandate_reminders_scan())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=scan_in_a_worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    # 3 groups x (its coordinator + the secretariat) x the 90- and 30-day thresholds.
    claims_made = sorted(Reminder.objects.values_list("pk", flat=True))
    assert len(claims_made) == 3 * 2 * 2
    assert sorted(queued) == claims_made  # every claim queued, none twice
    assert sum(results) == len(claims_made)
    for reminder_id in queued:
        mandate_reminder_send(reminder_id=reminder_id)
    assert len(mail.outbox) == len(claims_made)  # one e-mail per recipient and threshold
    assert not Reminder.objects.filter(sent_at__isnull=True).exists()


# --- Invitation e-mails -----------------------------------------------------


def test_an_invitation_email_links_to_the_invitation_with_the_personal_message():
    group = make_group(name="Electronic Monitoring")
    coordinator = coordinator_of(group)
    invitation = Invitation.objects.create(
        group=group,
        email="newcomer@example.org",
        invited_by=coordinator,
        message="We would value your experience with curfews.",
    )
    assert send_invitation_email.delay(invitation.pk).get() is True
    (message,) = mail.outbox
    assert message.to == ["newcomer@example.org"]
    assert coordinator.full_name in message.subject
    assert "Electronic Monitoring" in message.subject
    url = "http://localhost:8000" + reverse("groups:invitation", kwargs={"token": invitation.token})
    assert url in message.body
    assert url in html_of(message)
    assert "We would value your experience with curfews." in message.body
    assert "create one with newcomer@example.org" in message.body
    assert 'lang="en"' in html_of(message)


def test_an_invitation_email_is_in_the_language_of_an_existing_account():
    group = make_group()
    invitee = UserFactory(email="expert@example.org", language="de", full_name="Jana Weber")
    invitation = Invitation.objects.create(
        group=group, email="Expert@Example.org", invited_by=coordinator_of(group)
    )
    send_invitation_email(invitation.pk)
    (message,) = mail.outbox
    assert message.to == [invitee.email]
    assert 'lang="de"' in html_of(message)
    with translation.override("de"):
        assert gettext("Hello %(name)s,") % {"name": "Jana"} in message.body
    assert "create one with" not in message.body


def test_an_invitation_email_for_a_gone_or_answered_invitation_is_not_sent():
    group = make_group()
    invitation = Invitation.objects.create(group=group, email="x@example.org")
    Invitation.objects.filter(pk=invitation.pk).update(declined_at=invitation.created_at)
    assert send_invitation_email(invitation.pk) is False
    assert send_invitation_email(invitation.pk + 1000) is False
    assert mail.outbox == []
