"""A coordinator polls for a date, two members in other zones vote, the poll becomes a meeting."""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from icalendar import Calendar
from playwright.sync_api import expect

from meetings.models import DatePoll, Meeting
from tests.factories import UserFactory
from tests.groups.factories import add_member, make_group

from .conftest import shot

pytestmark = pytest.mark.e2e

BRUSSELS = ZoneInfo("Europe/Brussels")


def sign_in_as(page, live_server, user) -> None:
    """Give the browser a session of ``user`` (and only that one)."""
    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def field(day: datetime, hour: int) -> str:
    return datetime.combine(day.date(), time(hour)).strftime("%Y-%m-%dT%H:%M")


def test_a_date_poll_becomes_a_meeting_with_calendar_invitations(page, live_server):
    coordinator = UserFactory(full_name="Carla Coordinator", timezone="Europe/Brussels")
    lisbon = UserFactory(full_name="Luís Lisbon", timezone="Europe/Lisbon")
    helsinki = UserFactory(full_name="Helmi Helsinki", timezone="Europe/Helsinki")
    group = make_group(slug="electronic-monitoring", coordinators=[coordinator])
    add_member(group, lisbon)
    add_member(group, helsinki)
    today = datetime.now(BRUSSELS)
    first_day, second_day = today + timedelta(days=10), today + timedelta(days=11)

    # The coordinator proposes two slots, in Brussels time.
    sign_in_as(page, live_server, coordinator)
    page.goto(f"/g/{group.slug}/")
    page.get_by_role("navigation", name="Group sections").get_by_role(
        "link", name="Meetings"
    ).click()
    page.get_by_role("link", name="Propose dates (poll)").click()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Brussels")
    page.get_by_label("Title of the meeting").fill("Monitoring technology workshop")
    page.locator('input[name="slots-0-starts_at"]').fill(field(first_day, 10))
    page.locator('input[name="slots-0-ends_at"]').fill(field(first_day, 12))
    page.locator('input[name="slots-1-starts_at"]').fill(field(second_day, 14))
    page.locator('input[name="slots-1-ends_at"]').fill(field(second_day, 16))
    rows = page.locator(".slot-row")
    expect(rows).to_have_count(4)
    page.get_by_role("button", name="Add a slot").click()  # meetings.js, no inline script
    expect(rows).to_have_count(5)
    page.get_by_label("Voting closes").fill(field(today + timedelta(days=5), 18))
    page.get_by_label("Online link (optional)").fill("https://meet.example.org/em")
    shot(page, "meetings-poll-form")
    page.get_by_role("button", name="Open the poll").click()

    expect(
        page.get_by_role("heading", level=2, name=re.compile("Monitoring technology workshop"))
    ).to_be_visible()
    poll = DatePoll.objects.get()
    first, second = poll.slots.all()
    poll_path = poll.get_absolute_url()

    # Two members vote, each seeing the slots in their own zone.
    votes = {lisbon: ("yes", "no"), helsinki: ("yes", "if_need_be")}
    shown = {lisbon: ("09:00–11:00", "Europe/Lisbon"), helsinki: ("11:00–13:00", "Europe/Helsinki")}
    for voter, (on_first, on_second) in votes.items():
        sign_in_as(page, live_server, voter)
        page.goto(poll_path)
        hours, zone = shown[voter]
        table = page.locator("table.poll-table")
        expect(table.locator("thead")).to_contain_text(hours)
        expect(table.locator("thead")).to_contain_text(zone)
        page.locator(f'input[name="slot-{first.pk}"][value="{on_first}"]').check()
        page.locator(f'input[name="slot-{second.pk}"][value="{on_second}"]').check()
        page.get_by_role("button", name="Save my answers").click()
        expect(page.get_by_text("Your answers are saved.")).to_be_visible()
    shot(page, "meetings-poll-voted")

    # The coordinator sees the totals and closes the poll on the best slot.
    sign_in_as(page, live_server, coordinator)
    page.goto(poll_path)
    totals = page.locator("table.poll-table tfoot")
    expect(totals).to_contain_text("2 yes, 0 if need be, 0 no")
    expect(totals).to_contain_text("0 yes, 1 if need be, 1 no")
    decide = page.get_by_role("region", name="Choose the date")
    expect(decide.get_by_role("radio").first).to_be_checked()  # the best slot is proposed
    mail.outbox.clear()
    decide.get_by_role("button", name="Close the poll and schedule the meeting").click()

    expect(page.get_by_text("The date is set")).to_be_visible()
    expect(
        page.get_by_role("heading", level=2, name=re.compile("Monitoring technology workshop"))
    ).to_be_visible()
    expect(page.get_by_role("link", name="Add to my calendar (.ics)")).to_be_visible()
    meeting = Meeting.objects.get()
    assert (meeting.starts_at, meeting.ends_at) == (first.starts_at, first.ends_at)
    assert page.url.endswith(meeting.get_absolute_url())
    shot(page, "meetings-meeting")

    invitations = [
        m for m in mail.outbox if "Invitation: Monitoring technology workshop" in m.subject
    ]
    assert sorted(m.to[0] for m in invitations) == sorted(
        [coordinator.email, lisbon.email, helsinki.email]
    )
    for message in invitations:
        (attachment,) = [a for a in message.attachments if a.filename.endswith(".ics")]
        cal = Calendar.from_ical(attachment.content)
        assert cal["METHOD"] == "REQUEST"
        (event,) = cal.events
        assert str(event["UID"]) == meeting.uid
        assert event["DTSTART"].params["TZID"] == "Europe/Brussels"
        assert event.DTSTART.astimezone(ZoneInfo("UTC")) == meeting.starts_at

    # The meeting is on the Lisbon member's dashboard, in Lisbon time.
    sign_in_as(page, live_server, lisbon)
    page.goto("/dashboard/")
    card = page.get_by_role("region", name="Next meetings")
    expect(card).to_contain_text("Monitoring technology workshop")
    expect(card).to_contain_text("09:00–11:00")
    assert page.console_errors == []


def test_a_coordinator_schedules_a_meeting_for_some_members_and_it_shows_in_the_calendar(
    page, live_server
):
    coordinator = UserFactory(full_name="Carla Coordinator", timezone="Europe/Helsinki")
    chosen = UserFactory(full_name="Chosen Member", timezone="Europe/Lisbon")
    other = UserFactory(full_name="Other Member")
    group = make_group(slug="mental-health", coordinators=[coordinator])
    add_member(group, chosen)
    add_member(group, other)
    day = datetime.now(BRUSSELS) + timedelta(days=3)

    sign_in_as(page, live_server, coordinator)
    page.goto(f"/g/{group.slug}/meetings/")
    page.get_by_role("link", name="Schedule a meeting").click()
    expect(page.get_by_label("Time zone")).to_have_value("Europe/Helsinki")
    page.get_by_label("Title").fill("Case review")
    page.get_by_label("Starts").fill(field(day, 15))
    page.get_by_label("Ends").fill(field(day, 14))  # before the start
    page.get_by_label("Online link (optional)").fill("javascript:alert(1)")
    members = page.get_by_role("group", name="Members to invite")
    expect(members).to_be_hidden()
    page.get_by_label("Only the members I choose").check()
    expect(members).to_be_visible()
    page.get_by_label("Chosen Member").check()
    page.get_by_role("button", name="Schedule and send the invitations").click()

    # Errors at their fields; nothing saved.
    expect(page.locator("#id_ends_at_error")).to_contain_text("The end must come after the start.")
    expect(page.locator("#id_online_url_error")).to_contain_text("https://")
    expect(page.get_by_label("Ends")).to_have_attribute("aria-invalid", "true")
    assert Meeting.objects.count() == 0
    shot(page, "meetings-schedule-errors")

    page.get_by_label("Ends").fill(field(day, 17))
    page.get_by_label("Online link (optional)").fill("https://meet.example.org/case")
    page.get_by_role("button", name="Schedule and send the invitations").click()
    expect(
        page.get_by_text("The meeting is scheduled and the invitations are sent.")
    ).to_be_visible()
    meeting = Meeting.objects.get()
    assert set(meeting.invitees.values_list("user_id", flat=True)) == {chosen.pk}
    assert [m.to for m in mail.outbox if "Invitation:" in m.subject] == [[chosen.email]]

    # The chosen member finds it in the month calendar, at 13:00 Lisbon time.
    sign_in_as(page, live_server, chosen)
    page.goto(f"/meetings/calendar/?month={day:%Y-%m}")
    cell = page.get_by_role("link", name=re.compile("Case review"))
    expect(cell).to_contain_text("13:00")
    shot(page, "meetings-month")
    page.goto("/meetings/")
    expect(page.get_by_role("main")).to_contain_text("Case review")
    shot(page, "meetings-agenda")
    assert page.console_errors == []
