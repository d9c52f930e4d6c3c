"""The notification centre, e-mail preferences per category and the daily digest."""

import re
import threading
import time as wall_clock
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, translation
from django.utils.translation import gettext

from portal import digest
from portal.digest import day_key, notification_digest_send, notification_digests_scan
from portal.models import Notification, NotificationPreference, Reminder
from portal.services import notification_preferences_set, notifications_mark_read, notify
from portal.tasks import (
    scan_notification_digests,
    send_notification_digest,
    send_notification_email,
)
from tests.conftest import need_service
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Category = Notification.Category
Delivery = NotificationPreference.Delivery
HELSINKI = ZoneInfo("Europe/Helsinki")  # UTC+2 in winter
LISBON = ZoneInfo("Europe/Lisbon")  # UTC+0 in winter
UTC = ZoneInfo("UTC")
DAY = date(2026, 1, 14)


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def local(zone: ZoneInfo, hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def utc(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return local(UTC, hour, minute, day)


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """Run ``fn`` at ``moment`` and execute (or drop: ``send=False``) what it queued on commit."""

    def call(moment: datetime, fn, *args, send: bool = True, **kwargs):
        with at(moment), django_capture_on_commit_callbacks(execute=send):
            return fn(*args, **kwargs)

    return call


def prefer(user, **choices: str) -> None:
    notification_preferences_set(user=user, choices=choices)


def note(run, moment: datetime, user, category: str, title: str, url: str = "") -> Notification:
    (created,) = run(
        moment, notify, users=[user], category=category, title=title, body="Details.", url=url
    )
    return created


def scan(run, moment: datetime, *, send: bool = True) -> int:
    return run(moment, notification_digests_scan, send=send)


def shown(moment: datetime, zone: ZoneInfo) -> str:
    """How a time is written in an English e-mail to someone in ``zone``."""
    with translation.override("en"):
        return formats.date_format(moment.astimezone(zone), "SHORT_DATETIME_FORMAT")


def mails_to(user) -> list:
    return [m for m in mail.outbox if m.to == [user.email]]


def html_of(message) -> str:
    return message.alternatives[0].content


def digest_claims(user) -> list[tuple[int, bool]]:
    """(local day, sent?) of the person's digest claims."""
    return sorted(
        (claim.threshold, claim.sent_at is not None)
        for claim in Reminder.objects.filter(subject_type="digest", recipient=user)
    )


@pytest.fixture
def helsinki():
    user = UserFactory(full_name="Aino Virtanen", timezone="Europe/Helsinki")
    prefer(user, meetings=Delivery.DIGEST, documents=Delivery.DIGEST, mandate=Delivery.OFF)
    return user


@pytest.fixture
def lisbon():
    user = UserFactory(full_name="João Silva", timezone="Europe/Lisbon")
    prefer(user, meetings=Delivery.DIGEST)
    return user


# --- The notification centre -------------------------------------------------


def nav_link(html: str) -> str:
    """The main navigation's link to the notification centre, as HTML."""
    match = re.search(r'<a href="/notifications/"[^>]*>(.*?)</a>', html, re.S)
    assert match, "no link to the notification centre in the page"
    return match.group(1)


def test_the_navigation_shows_the_number_of_unread_notifications(run, auth_client, user):
    other = UserFactory()
    for i in range(3):
        note(run, utc(9, i), user, Category.DOCUMENTS, f"Document {i}")
    note(run, utc(9, 5), other, Category.DOCUMENTS, "Not yours")
    notifications_mark_read(user=user, ids=[Notification.objects.filter(user=user).first().pk])

    link = nav_link(auth_client.get(reverse("dashboard")).text)
    assert re.search(r'class="count"[^>]*>2<', link)
    assert "2 unread" in link

    notifications_mark_read(user=user)
    link = nav_link(auth_client.get(reverse("dashboard")).text)
    assert 'class="count"' not in link


def test_the_centre_lists_only_ones_own_notifications_newest_first_30_a_page(
    run, auth_client, user
):
    for i in range(35):
        note(run, utc(8) + timedelta(minutes=i), user, Category.MEETINGS, f"Meeting note {i:02}")
    note(run, utc(10), UserFactory(), Category.MEETINGS, "Someone else's")

    first = auth_client.get(reverse("notifications"))
    assert first.status_code == HTTPStatus.OK
    titles = re.findall(r"<strong>Meeting note (\d\d)</strong>", first.text)
    assert titles == [f"{i:02}" for i in range(34, 4, -1)]
    assert "Someone else" not in first.text
    assert "Page 1 of 2" in first.text

    second = auth_client.get(reverse("notifications"), {"page": 2})
    assert re.findall(r"<strong>Meeting note (\d\d)</strong>", second.text) == [
        "04",
        "03",
        "02",
        "01",
        "00",
    ]
    # A page past the end shows the last one rather than failing.
    assert (
        auth_client.get(reverse("notifications"), {"page": 99}).text.count('id="notification-') == 5
    )


def test_the_centre_says_so_when_there_is_nothing(auth_client):
    response = auth_client.get(reverse("notifications"))
    assert "No notifications yet." in response.text
    assert "Mark all as read" not in response.text


def test_marking_one_notification_read_leaves_the_others_unread(run, auth_client, user):
    first = note(run, utc(9), user, Category.CHAT, "First", url="/dashboard/")
    second = note(run, utc(9, 1), user, Category.CHAT, "Second")
    theirs = note(run, utc(9, 2), UserFactory(), Category.CHAT, "Theirs")

    page = auth_client.get(reverse("notifications")).text
    assert f'name="id" value="{first.pk}"' in page

    response = auth_client.post(
        reverse("notifications_read"), {"id": [first.pk, theirs.pk], "next": "/notifications/"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/notifications/"
    first.refresh_from_db()
    second.refresh_from_db()
    theirs.refresh_from_db()
    assert first.read_at is not None
    assert second.read_at is None
    assert theirs.read_at is None  # someone else's notification is not touched
    page = auth_client.get(reverse("notifications")).text
    assert f'name="id" value="{first.pk}"' not in page
    assert f'name="id" value="{second.pk}"' in page


def test_each_mark_as_read_button_is_named_after_its_notification_in_the_users_language(
    run, auth_client, user
):
    note(run, utc(9), user, Category.CHAT, "Budget call", url="/dashboard/")
    page = auth_client.get(reverse("notifications")).text
    assert 'aria-label="Mark as read: Budget call">Mark as read</button>' in page
    user.language = "fr"
    user.save(update_fields=["language"])
    page = auth_client.get(reverse("notifications")).text
    with translation.override("fr"):
        label = gettext("Mark as read: %(title)s") % {"title": "Budget call"}
        visible = gettext("Mark as read")
    assert label != "Mark as read: Budget call"
    assert f'aria-label="{label}">{visible}</button>' in page


def test_mark_all_read_marks_every_own_notification(run, auth_client, user):
    for i in range(3):
        note(run, utc(9, i), user, Category.MEMBERSHIP, f"Note {i}")
    theirs = note(run, utc(9, 5), UserFactory(), Category.MEMBERSHIP, "Theirs")

    response = auth_client.post(reverse("notifications_read"), follow=True)
    assert response.redirect_chain == [(reverse("notifications"), HTTPStatus.FOUND)]
    assert "All notifications are marked as read." in response.text
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x"])
def test_marking_read_never_redirects_to_another_site(auth_client, next_url):
    response = auth_client.post(reverse("notifications_read"), {"next": next_url})
    assert response["Location"] == reverse("notifications")


def test_marking_read_with_a_forged_id_says_so_and_changes_nothing(run, auth_client, user):
    kept = note(run, utc(9), user, Category.CHAT, "Kept")
    response = auth_client.post(reverse("notifications_read"), {"id": "abc"}, follow=True)
    assert "That notification could not be found." in response.text
    kept.refresh_from_db()
    assert kept.read_at is None


def test_marking_read_needs_a_post(auth_client):
    assert auth_client.get(reverse("notifications_read")).status_code == (
        HTTPStatus.METHOD_NOT_ALLOWED
    )


def test_following_a_notification_marks_it_read_and_goes_to_its_target(run, auth_client, user):
    followed = note(run, utc(9), user, Category.MEETINGS, "Followed", url="/meetings/")
    other = note(run, utc(9, 1), user, Category.MEETINGS, "Other", url="/dashboard/")
    open_url = reverse("notification_open", args=[followed.pk])

    for page in (reverse("notifications"), reverse("dashboard")):
        html = auth_client.get(page).text
        assert f'<a href="{open_url}">Followed</a>' in html
        assert 'href="/meetings/">Followed' not in html
    assert re.search(r'class="count"[^>]*>2<', nav_link(html))

    response = auth_client.get(open_url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/meetings/"
    followed.refresh_from_db()
    other.refresh_from_db()
    assert followed.read_at is not None
    assert other.read_at is None
    assert re.search(r'class="count"[^>]*>1<', nav_link(auth_client.get(reverse("dashboard")).text))

    # Opening it again keeps the first read time.
    read_at = followed.read_at
    assert auth_client.get(open_url)["Location"] == "/meetings/"
    followed.refresh_from_db()
    assert followed.read_at == read_at


def test_only_the_owner_may_open_a_notification(run, client, user):
    theirs = note(run, utc(9), user, Category.CHAT, "Theirs", url="/dashboard/")
    client.force_login(UserFactory())
    assert client.get(reverse("notification_open", args=[theirs.pk])).status_code == (
        HTTPStatus.NOT_FOUND
    )
    assert client.get(reverse("notification_open", args=[2**63])).status_code == (
        HTTPStatus.NOT_FOUND
    )
    theirs.refresh_from_db()
    assert theirs.read_at is None


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", ""])
def test_opening_a_notification_never_redirects_to_another_site(run, auth_client, user, target):
    created = note(run, utc(9), user, Category.CHAT, "Odd link", url=target)
    response = auth_client.get(reverse("notification_open", args=[created.pk]))
    assert response["Location"] == f"{reverse('notifications')}#notification-{created.pk}"
    created.refresh_from_db()
    assert created.read_at is not None


def test_an_off_site_notification_opens_the_list_page_that_shows_it(run, auth_client, user):
    """The list shows the newest first, ties by creation order reversed, 30 a page."""
    older = note(run, utc(8), user, Category.CHAT, "Older", url="https://evil.example/")
    tied = [
        note(run, utc(9), user, Category.CHAT, f"Tied {n}", url="//evil.example/")
        for n in range(30)
    ]
    # Newest first: the 30 tied ones fill page 1, the last one created first.
    cases = [(older, 2), (tied[0], 1), (tied[-1], 1)]
    for target, page in cases:
        query = f"?page={page}" if page > 1 else ""
        location = auth_client.get(reverse("notification_open", args=[target.pk]))["Location"]
        assert location == f"{reverse('notifications')}{query}#notification-{target.pk}"
        assert f'id="notification-{target.pk}"' in auth_client.get(location).text

    # A tie broken by creation order: one more at the same time pushes the first to page 2.
    note(run, utc(9), user, Category.CHAT, "Tied last", url="")
    location = auth_client.get(reverse("notification_open", args=[tied[0].pk]))["Location"]
    assert location == f"{reverse('notifications')}?page=2#notification-{tied[0].pk}"
    assert f'id="notification-{tied[0].pk}"' in auth_client.get(location).text


# --- E-mail preferences --------------------------------------------------------


def all_choices(**overrides: str) -> dict[str, str]:
    return {value: overrides.get(value, Delivery.IMMEDIATELY) for value in Category.values}


def test_the_settings_form_saves_one_choice_per_category(auth_client, user):
    page = auth_client.get(reverse("notification_settings"))
    assert page.status_code == HTTPStatus.OK
    with translation.override("en"):
        seven = formats.time_format(time(7), "TIME_FORMAT")
    assert f"shortly after {seven} in your time zone (Europe/Brussels)" in page.text

    response = auth_client.post(
        reverse("notification_settings"),
        all_choices(meetings=Delivery.DIGEST, chat=Delivery.OFF),
        follow=True,
    )
    assert "Your notification settings have been saved." in response.text
    saved = dict(
        NotificationPreference.objects.filter(user=user).values_list("category", "delivery")
    )
    assert saved == all_choices(meetings=Delivery.DIGEST, chat=Delivery.OFF)
    # The form shows the saved choices.
    assert re.search(r'name="meetings" value="digest"[^>]*checked', response.text)
    assert re.search(r'name="chat" value="off"[^>]*checked', response.text)


@pytest.mark.parametrize(
    "post",
    [
        all_choices(meetings="weekly"),  # a forged choice
        {k: v for k, v in all_choices().items() if k != "documents"},  # one left out
    ],
    ids=["forged-choice", "missing-category"],
)
def test_bad_settings_get_a_clear_message_and_change_nothing(auth_client, user, post):
    prefer(user, chat=Delivery.OFF)
    response = auth_client.post(reverse("notification_settings"), post)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Your settings were not saved" in response.text
    assert 'class="error-summary"' in response.text
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your settings were not saved: choose one option for each kind of notification."
    ]
    assert dict(
        NotificationPreference.objects.filter(user=user).values_list("category", "delivery")
    ) == {"chat": Delivery.OFF}


def test_the_preferences_service_refuses_unknown_values_and_changes_nothing(user):
    with pytest.raises(ValidationError) as refused:
        notification_preferences_set(
            user=user, choices={"meetings": Delivery.DIGEST, "gossip": Delivery.OFF}
        )
    assert "gossip" in refused.value.message_dict
    with pytest.raises(ValidationError):
        notification_preferences_set(user=user, choices={"meetings": "hourly"})
    assert not NotificationPreference.objects.filter(user=user).exists()


# --- Off and immediately ---------------------------------------------------------


def test_off_sends_no_email_ever(run, user):
    prefer(user, chat=Delivery.OFF)
    created = note(run, utc(9), user, Category.CHAT, "You were mentioned")
    assert mail.outbox == []
    assert scan(run, utc(20)) == 0
    assert scan(run, utc(9, day=DAY + timedelta(days=1))) == 0
    assert mail.outbox == []
    created.refresh_from_db()
    assert created.emailed_at is None
    # It is in the notification centre all the same.
    assert Notification.objects.filter(user=user, title="You were mentioned").exists()


def test_immediately_sends_one_email_at_once(run, user):
    created = note(run, utc(9), user, Category.DOCUMENTS, "A new agenda", url="/dashboard/")
    (message,) = mail.outbox
    assert message.to == [user.email]
    assert "A new agenda" in message.subject
    assert "http://localhost:8000/dashboard/" in message.body
    assert "http://localhost:8000/dashboard/" in html_of(message)
    created.refresh_from_db()
    assert created.emailed_at is not None
    # Run again (a redelivered task): nothing more.
    assert send_notification_email(created.pk) is False
    assert len(mail.outbox) == 1
    # Nor does the digest send it again.
    prefer(user, documents=Delivery.DIGEST)
    assert scan(run, utc(20)) == 0


def test_an_immediate_email_queued_before_the_person_chose_off_is_not_sent(run, user):
    (created,) = run(utc(9), notify, users=[user], category=Category.CHAT, title="Hi", send=False)
    prefer(user, chat=Delivery.OFF)
    assert send_notification_email(created.pk) is False
    assert mail.outbox == []


def test_an_immediate_email_is_in_the_recipients_language(run):
    user = UserFactory(language="de", full_name="Jana Weber")
    note(run, utc(9), user, Category.MEETINGS, "Titel")
    (message,) = mail.outbox
    assert 'lang="de"' in html_of(message)
    with translation.override("de"):
        assert gettext("Hello %(name)s,") % {"name": "Jana"} in message.body


# --- The daily digest ------------------------------------------------------------


def test_the_digest_bundles_the_day_in_one_email_grouped_by_category(run, helsinki):
    note(run, utc(1), helsinki, Category.MEETINGS, "Meeting moved", url="/m/1/")
    note(run, utc(2), helsinki, Category.DOCUMENTS, "Minutes uploaded", url="/d/2/")
    note(run, utc(3, 30), helsinki, Category.MEETINGS, "Poll opened", url="/m/3/")
    note(run, utc(3, 5), helsinki, Category.MANDATE, "Mandate ends soon")  # off
    note(run, utc(3, 10), helsinki, Category.CHAT, "Mentioned")  # immediately
    assert [m.subject for m in mails_to(helsinki)] == ["[Expert Group Portal] Mentioned"]
    mail.outbox.clear()

    assert scan(run, local(HELSINKI, 6, 55)) == 0  # before the digest hour
    assert mail.outbox == []
    assert scan(run, local(HELSINKI, 7, 5)) == 1
    (message,) = mail.outbox
    assert message.to == [helsinki.email]
    assert message.subject == "[Expert Group Portal] Your daily digest: 3 new notifications"
    text, html = message.body, html_of(message)
    for title, url in [
        ("Meeting moved", "/m/1/"),
        ("Minutes uploaded", "/d/2/"),
        ("Poll opened", "/m/3/"),
    ]:
        assert title in text
        assert f"http://localhost:8000{url}" in text
        assert f'href="http://localhost:8000{url}"' in html
    assert "Mandate ends soon" not in text
    assert "Mentioned" not in text
    # Grouped by category in the categories' order, newest first in each.
    order = [text.index(s) for s in ("Documents", "Minutes uploaded", "Meetings", "Poll opened")]
    assert order == sorted(order)
    assert text.index("Poll opened") < text.index("Meeting moved")
    # Times are the recipient's: 03:30 UTC is 05:30 in Helsinki.
    assert shown(utc(3, 30), HELSINKI) in text
    assert shown(utc(3, 30), UTC) not in text
    assert "http://localhost:8000/notifications/settings/" in text

    digested = Notification.objects.filter(
        user=helsinki, category__in=[Category.MEETINGS, Category.DOCUMENTS]
    )
    assert all(n.emailed_at is not None for n in digested)
    assert Notification.objects.get(user=helsinki, category=Category.MANDATE).emailed_at is None
    assert digest_claims(helsinki) == [(day_key(DAY), True)]


def test_the_digest_goes_out_once_a_day_and_later_news_waits_for_the_next(run, helsinki):
    note(run, utc(1), helsinki, Category.MEETINGS, "Early news")
    assert scan(run, local(HELSINKI, 7, 5)) == 1
    assert scan(run, local(HELSINKI, 7, 20)) == 0
    note(run, local(HELSINKI, 10), helsinki, Category.MEETINGS, "Later news")
    assert scan(run, local(HELSINKI, 11)) == 0
    assert scan(run, local(HELSINKI, 23, 55)) == 0
    assert len(mail.outbox) == 1

    tomorrow = DAY + timedelta(days=1)
    assert scan(run, local(HELSINKI, 0, 30, day=tomorrow)) == 0  # a new day, but too early
    assert scan(run, local(HELSINKI, 7, 1, day=tomorrow)) == 1
    first, second = mail.outbox
    assert "Early news" in first.body and "Later news" not in first.body
    assert "Later news" in second.body and "Early news" not in second.body
    assert second.subject.endswith("Your daily digest: 1 new notification")
    assert digest_claims(helsinki) == [(day_key(DAY), True), (day_key(tomorrow), True)]


def test_the_digest_hour_is_each_persons_own_across_time_zones(run, helsinki, lisbon):
    note(run, utc(1), helsinki, Category.MEETINGS, "For Aino")
    note(run, utc(1), lisbon, Category.MEETINGS, "For João")

    # 05:30 UTC: 07:30 in Helsinki, 05:30 in Lisbon.
    assert scan(run, utc(5, 30)) == 1
    assert [len(mails_to(helsinki)), len(mails_to(lisbon))] == [1, 0]
    # 07:10 UTC: 07:10 in Lisbon.
    assert scan(run, utc(7, 10)) == 1
    assert [len(mails_to(helsinki)), len(mails_to(lisbon))] == [1, 1]

    note(run, utc(21), helsinki, Category.MEETINGS, "Late for Aino")
    note(run, utc(21), lisbon, Category.MEETINGS, "Late for João")
    # 22:30 UTC: already tomorrow 00:30 in Helsinki (before the hour); still today in
    # Lisbon, whose digest of today has gone out.
    assert scan(run, utc(22, 30)) == 0
    tomorrow = DAY + timedelta(days=1)
    assert scan(run, utc(5, 30, day=tomorrow)) == 1
    assert [len(mails_to(helsinki)), len(mails_to(lisbon))] == [2, 1]
    assert "Late for Aino" in mails_to(helsinki)[1].body
    assert scan(run, utc(7, 10, day=tomorrow)) == 1
    assert "Late for João" in mails_to(lisbon)[1].body
    assert digest_claims(helsinki) == [(day_key(DAY), True), (day_key(tomorrow), True)]
    assert digest_claims(lisbon) == [(day_key(DAY), True), (day_key(tomorrow), True)]


def test_the_digest_hour_can_be_configured(run, helsinki, settings):
    settings.NOTIFICATION_DIGEST_HOUR = 18
    note(run, utc(1), helsinki, Category.MEETINGS, "Evening read")
    assert scan(run, local(HELSINKI, 17, 55)) == 0
    assert scan(run, local(HELSINKI, 18, 5)) == 1
    assert len(mail.outbox) == 1


def test_the_digest_is_in_the_recipients_language(run):
    user = UserFactory(language="fr", full_name="Claire Martin", timezone="Europe/Paris")
    prefer(user, documents=Delivery.DIGEST)
    note(run, utc(1), user, Category.DOCUMENTS, "Doc")
    scan(run, utc(8))
    (message,) = mail.outbox
    assert 'lang="fr"' in html_of(message)
    with translation.override("fr"):
        assert gettext("Hello %(name)s,") % {"name": "Claire"} in message.body
        assert str(Category.DOCUMENTS.label) in message.body


def test_read_notifications_are_left_out_of_the_digest(run, helsinki):
    read = note(run, utc(1), helsinki, Category.MEETINGS, "Seen in the app")
    note(run, utc(2), helsinki, Category.MEETINGS, "Not seen")
    notifications_mark_read(user=helsinki, ids=[read.pk])
    scan(run, local(HELSINKI, 8))
    (message,) = mail.outbox
    assert "Not seen" in message.body
    assert "Seen in the app" not in message.body


def test_a_claim_with_nothing_left_to_send_is_dropped_and_later_news_still_goes_out(run, helsinki):
    first = note(run, utc(1), helsinki, Category.MEETINGS, "Read before the digest")
    assert scan(run, local(HELSINKI, 7, 5), send=False) == 1
    notifications_mark_read(user=helsinki, ids=[first.pk])
    (claim,) = Reminder.objects.filter(subject_type="digest")
    assert run(local(HELSINKI, 7, 6), notification_digest_send, claim_id=claim.pk) is False
    assert mail.outbox == []
    assert digest_claims(helsinki) == []

    note(run, local(HELSINKI, 12), helsinki, Category.MEETINGS, "Afternoon news")
    assert scan(run, local(HELSINKI, 12, 10)) == 1
    (message,) = mail.outbox
    assert "Afternoon news" in message.body


def test_notifications_older_than_the_lookback_are_not_e_mailed(run, helsinki):
    scan_at = local(HELSINKI, 8)
    old = note(
        run, scan_at - digest.LOOKBACK - timedelta(minutes=1), helsinki, "documents", "Stale news"
    )
    recent = note(
        run, scan_at - digest.LOOKBACK + timedelta(minutes=1), helsinki, "documents", "Fresh news"
    )
    assert scan(run, scan_at) == 1
    (message,) = mail.outbox
    assert "Fresh news" in message.body and "Stale news" not in message.body
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.emailed_at is None
    assert recent.emailed_at is not None


def test_a_deactivated_person_gets_no_digest(run, helsinki):
    note(run, utc(1), helsinki, Category.MEETINGS, "News")
    helsinki.is_active = False
    helsinki.save(update_fields=["is_active"])
    assert scan(run, local(HELSINKI, 8)) == 0
    assert mail.outbox == []


def test_a_category_switched_from_digest_to_off_is_not_sent(run, helsinki):
    note(run, utc(1), helsinki, Category.MEETINGS, "News")
    assert scan(run, local(HELSINKI, 7, 5), send=False) == 1
    prefer(helsinki, meetings=Delivery.OFF)
    (claim,) = Reminder.objects.filter(subject_type="digest")
    assert run(local(HELSINKI, 7, 6), notification_digest_send, claim_id=claim.pk) is False
    assert mail.outbox == []


# --- Exactly once ----------------------------------------------------------------


def test_scanning_and_sending_twice_sends_one_digest(run, helsinki):
    note(run, utc(1), helsinki, Category.MEETINGS, "News")
    assert scan(run, local(HELSINKI, 7, 5), send=False) == 1
    assert scan(run, local(HELSINKI, 7, 6), send=False) == 0  # queued already
    (claim,) = Reminder.objects.filter(subject_type="digest")
    assert run(local(HELSINKI, 7, 7), send_notification_digest, claim.pk) is True
    assert run(local(HELSINKI, 7, 7), send_notification_digest, claim.pk) is False
    assert len(mail.outbox) == 1


def test_a_lost_send_task_is_queued_again_by_a_later_scan(run, helsinki):
    note(run, utc(1), helsinki, Category.MEETINGS, "News")
    assert scan(run, local(HELSINKI, 7, 5), send=False) == 1  # the queue lost it
    assert scan(run, local(HELSINKI, 7, 10)) == 0  # still within REQUEUE_AFTER
    assert scan(run, local(HELSINKI, 7, 5) + digest.REQUEUE_AFTER + timedelta(minutes=1)) == 1
    assert len(mail.outbox) == 1


def _fail_once(monkeypatch, exc: Exception) -> list:
    real = digest.send_templated_email
    calls: list = []

    def flaky(**kwargs):
        calls.append(kwargs["to"])
        if len(calls) == 1:
            raise exc
        return real(**kwargs)

    monkeypatch.setattr(digest, "send_templated_email", flaky)
    return calls


def test_a_failed_send_leaves_everything_unsent_and_the_retry_sends_once(
    run, helsinki, monkeypatch
):
    news = note(run, utc(1), helsinki, Category.MEETINGS, "News")
    scan(run, local(HELSINKI, 7, 5), send=False)
    (claim,) = Reminder.objects.filter(subject_type="digest")
    _fail_once(monkeypatch, OSError("connection refused"))
    with at(local(HELSINKI, 7, 6)):
        with pytest.raises(OSError):
            notification_digest_send(claim_id=claim.pk)
        claim.refresh_from_db()
        news.refresh_from_db()
        assert (claim.sent_at, claim.attempts, news.emailed_at) == (None, 1, None)
        assert mail.outbox == []
        assert notification_digest_send(claim_id=claim.pk) is True
        assert notification_digest_send(claim_id=claim.pk) is False
    claim.refresh_from_db()
    news.refresh_from_db()
    assert claim.sent_at is not None
    assert claim.attempts == 2
    assert news.emailed_at is not None
    assert len(mail.outbox) == 1


def test_the_send_task_retries_after_a_mail_server_error(run, helsinki, monkeypatch):
    import smtplib

    note(run, utc(1), helsinki, Category.MEETINGS, "News")
    scan(run, local(HELSINKI, 7, 5), send=False)
    (claim,) = Reminder.objects.filter(subject_type="digest")
    calls = _fail_once(monkeypatch, smtplib.SMTPServerDisconnected("gone"))
    with at(local(HELSINKI, 7, 6)):
        # apply() runs Celery's retry inline (no countdown): the second attempt sends.
        result = send_notification_digest.apply(args=[claim.pk], throw=False)
    assert result.get() is True
    assert len(calls) == 2
    assert len(mail.outbox) == 1


def test_a_day_whose_digest_never_went_out_is_caught_up_in_the_next_one(run, helsinki, monkeypatch):
    note(run, utc(1), helsinki, Category.MEETINGS, "Monday news")
    monkeypatch.setattr(digest, "_queue_sends", lambda ids: None)  # the worker is down
    assert scan(run, local(HELSINKI, 7, 5)) == 1
    monkeypatch.undo()
    tomorrow = DAY + timedelta(days=1)
    note(run, local(HELSINKI, 6, day=tomorrow), helsinki, Category.DOCUMENTS, "Tuesday news")
    assert scan(run, local(HELSINKI, 7, 5, day=tomorrow)) == 1  # only today's claim
    (message,) = mail.outbox
    assert "Monday news" in message.body and "Tuesday news" in message.body
    # The claim of the missed day is gone; today's is sent.
    assert digest_claims(helsinki) == [(day_key(tomorrow), True)]


def test_a_claim_whose_day_is_over_is_not_sent_and_its_news_goes_in_the_next(run, helsinki):
    note(run, utc(1), helsinki, Category.MEETINGS, "News")
    scan(run, local(HELSINKI, 7, 5), send=False)
    (claim,) = Reminder.objects.filter(subject_type="digest")
    tomorrow = DAY + timedelta(days=1)
    # A retry that comes after midnight does not send yesterday's digest today.
    assert (
        run(local(HELSINKI, 0, 10, day=tomorrow), notification_digest_send, claim_id=claim.pk)
        is False
    )
    assert mail.outbox == []
    assert scan(run, local(HELSINKI, 7, 5, day=tomorrow)) == 1
    assert len(mail.outbox) == 1


def test_the_digest_scan_is_scheduled_by_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["notification-digests"]
    assert entry["task"] == scan_notification_digests.name


def test_the_scan_issues_as_many_queries_for_50_people_as_for_5(run):
    def people(n: int) -> None:
        for _ in range(n):
            user = UserFactory(timezone="Europe/Helsinki")
            prefer(user, meetings=Delivery.DIGEST)
            note(run, utc(1), user, Category.MEETINGS, "News")

    def queries_of_scan() -> int:
        Reminder.objects.all().delete()
        with CaptureQueriesContext(connection) as ctx:
            assert scan(run, local(HELSINKI, 8), send=False) > 0
        return len(ctx.captured_queries)

    people(5)
    with_5 = queries_of_scan()
    people(45)
    with_50 = queries_of_scan()
    assert Reminder.objects.filter(subject_type="digest").count() == 50
    assert with_50 == with_5
    assert with_5 <= 10


def test_a_big_day_lists_the_first_ones_and_counts_the_rest(run, helsinki, monkeypatch):
    monkeypatch.setattr(digest, "MAX_LISTED", 3)
    for i in range(5):
        note(run, utc(1, i), helsinki, Category.MEETINGS, f"Item {i}")
    scan(run, local(HELSINKI, 8))
    (message,) = mail.outbox
    assert message.subject.endswith("5 new notifications")
    assert "And 2 more in your notification centre" in message.body
    assert "Item 4" in message.body and "Item 0" not in message.body
    assert not Notification.objects.filter(user=helsinki, emailed_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_the_same_digest_at_once_send_one_email(monkeypatch):
    need_service(
        connection.vendor == "postgresql",
        "row locks need PostgreSQL: set DATABASE_URL=postgres://… (SQLite has no SELECT … FOR "
        "UPDATE)",
    )
    monkeypatch.setattr(digest, "_queue_sends", lambda ids: None)
    user = UserFactory(timezone="Europe/Helsinki")
    prefer(user, meetings=Delivery.DIGEST)
    with at(utc(1)):
        Notification.objects.create(user=user, category=Category.MEETINGS, title="News")
    with at(local(HELSINKI, 7, 5)):
        assert notification_digests_scan() == 1
    claim = Reminder.objects.get(subject_type="digest")

    real = digest.send_templated_email

    def slow_send(**kwargs):
        wall_clock.sleep(0.5)  # hold the row lock while the other worker arrives
        real(**kwargs)

    monkeypatch.setattr(digest, "send_templated_email", slow_send)
    start = threading.Barrier(2)
    results: list[bool] = []

    def worker():
        try:
            start.wait()
            results.append(notification_digest_send(claim_id=claim.pk))
        finally:
            connections.close_all()

    # The clock is moved for the whole process, so for both threads.
    with at(local(HELSINKI, 7, 6)):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert sorted(results) == [False, True]
    assert len(mail.outbox) == 1
    claim.refresh_from_db()
    assert claim.sent_at is not None


@pytest.mark.parametrize("next_url", ["a b", "dashboard", "a\x00b"])
def test_marking_read_follows_a_next_without_a_slash_as_an_address(auth_client, next_url):
    """Found by tests/hostile: a ``next`` without "/" or "." was taken for a route name,
    and one that names no route answered 500."""
    from django.utils.encoding import iri_to_uri

    response = auth_client.post(reverse("notifications_read"), {"next": next_url})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == iri_to_uri(next_url)  # an address, taken as it is


@pytest.mark.parametrize("forged", ["²", "9" * 5000, str(2**63)])
def test_marking_read_with_an_id_that_cannot_be_an_id_says_so(run, auth_client, user, forged):
    kept = note(run, utc(9), user, Category.CHAT, "Kept")
    response = auth_client.post(reverse("notifications_read"), {"id": forged}, follow=True)
    assert "That notification could not be found." in response.text
    kept.refresh_from_db()
    assert kept.read_at is None
