"""Calendar files parsed back with the icalendar library and checked field by field."""

from datetime import datetime, timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse
from icalendar import Calendar

from meetings import services
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

from .factories import BRUSSELS, HELSINKI, LISBON, UTC, local, make_meeting

pytestmark = pytest.mark.django_db


def calendars_sent_to(user) -> list[Calendar]:
    """The invite.ics attachment of every e-mail sent to ``user``, parsed."""
    found = []
    for message in mail.outbox:
        if message.to == [user.email]:
            (attachment,) = [a for a in message.attachments if a.filename == "invite.ics"]
            found.append(Calendar.from_ical(attachment.content))
    return found


def only_event(cal: Calendar):
    (event,) = cal.events
    return event


def attendees(event) -> set[str]:
    values = event.get("ATTENDEE", [])
    values = values if isinstance(values, list) else [values]
    return {str(v).removeprefix("mailto:") for v in values}


@pytest.fixture
def helsinki_meeting(group, member, commit):
    """Planned by the coordinator for 11:00–13:00 in Helsinki, after the spring change."""
    with commit():
        return make_meeting(
            group,
            title="Data protection and probation",
            starts_at=local(2027, 3, 30, 11, 0),
            ends_at=local(2027, 3, 30, 13, 0),
            timezone_name="Europe/Helsinki",
            place="Ministry of Justice, Helsinki",
            online_url="https://meet.example.org/dp",
            agenda="1. Welcome\n2. GDPR in probation files",
        )


def test_the_invitation_is_a_request_with_the_event_in_its_own_zone(
    group, member, helsinki_meeting
):
    coordinator = coordinator_of(group)
    (cal,) = calendars_sent_to(member)
    assert cal["METHOD"] == "REQUEST"
    assert cal["VERSION"] == "2.0"
    assert "Expert Group Portal" in str(cal["PRODID"])
    cal.validate()

    event = only_event(cal)
    assert str(event["UID"]) == helsinki_meeting.uid
    assert event["SEQUENCE"] == 0
    assert event["DTSTART"].params["TZID"] == "Europe/Helsinki"
    assert event["DTEND"].params["TZID"] == "Europe/Helsinki"
    assert datetime(2027, 3, 30, 11, 0, tzinfo=HELSINKI) == event.DTSTART
    assert event.DTSTART.astimezone(UTC) == datetime(2027, 3, 30, 8, 0, tzinfo=UTC)
    assert event.DTEND.astimezone(UTC) == helsinki_meeting.ends_at
    assert event.DTSTAMP.tzinfo is not None and event.DTSTAMP.utcoffset() == timedelta(0)
    assert str(event["SUMMARY"]) == "Data protection and probation"
    assert str(event["LOCATION"]) == "Ministry of Justice, Helsinki"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "GDPR in probation files" in str(event["DESCRIPTION"])
    assert "https://meet.example.org/dp" in str(event["DESCRIPTION"])
    assert str(event["URL"]).endswith(helsinki_meeting.get_absolute_url())
    assert str(event["ORGANIZER"]) == f"mailto:{coordinator.email}"
    assert attendees(event) == {coordinator.email, member.email}
    for attendee in event["ATTENDEE"]:
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "FALSE"

    (zone,) = cal.timezones
    assert str(zone["TZID"]) == "Europe/Helsinki"


def test_the_invitation_email_carries_a_calendar_part_outlook_and_gmail_understand(
    member, helsinki_meeting
):
    (message,) = [m for m in mail.outbox if m.to == [member.email]]
    kinds = [mimetype for _content, mimetype in message.alternatives]
    assert "text/html" in kinds
    assert "text/calendar; method=REQUEST; charset=UTF-8" in kinds
    raw = message.message().as_string()
    assert 'Content-Type: text/calendar; method="REQUEST"' in raw
    assert 'filename="invite.ics"' in raw


def test_the_uid_stays_and_the_sequence_rises_with_each_change(
    group, member, helsinki_meeting, commit
):
    coordinator = coordinator_of(group)
    moves = [local(2027, 3, 31, 11, 0), local(2027, 4, 1, 9, 30)]
    for start in moves:
        with commit():
            services.meeting_update(
                actor=coordinator,
                meeting=helsinki_meeting,
                title=helsinki_meeting.title,
                agenda=helsinki_meeting.agenda,
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                timezone_name="Europe/Helsinki",
                place=helsinki_meeting.place,
                online_url=helsinki_meeting.online_url,
            )
    events = [only_event(cal) for cal in calendars_sent_to(member)]
    assert [str(e["UID"]) for e in events] == [helsinki_meeting.uid] * 3
    assert [e["SEQUENCE"] for e in events] == [0, 1, 2]
    assert [e.DTSTART for e in events] == [
        datetime(2027, 3, 30, 11, 0, tzinfo=HELSINKI),
        datetime(2027, 3, 31, 11, 0, tzinfo=HELSINKI),
        datetime(2027, 4, 1, 9, 30, tzinfo=HELSINKI),
    ]
    assert all(cal["METHOD"] == "REQUEST" for cal in calendars_sent_to(member))


def test_the_cancellation_is_a_cancel_with_the_same_uid_and_a_higher_sequence(
    group, member, helsinki_meeting, commit
):
    with commit():
        services.meeting_cancel(
            actor=coordinator_of(group), meeting=helsinki_meeting, reason="Strike"
        )
    invitation, cancellation = calendars_sent_to(member)
    assert cancellation["METHOD"] == "CANCEL"
    event = only_event(cancellation)
    assert str(event["UID"]) == helsinki_meeting.uid
    assert event["SEQUENCE"] == only_event(invitation)["SEQUENCE"] + 1
    assert str(event["STATUS"]) == "CANCELLED"
    assert datetime(2027, 3, 30, 11, 0, tzinfo=HELSINKI) == event.DTSTART


def test_a_person_taken_off_the_list_receives_a_cancel_for_themselves_only(group, member, commit):
    coordinator = coordinator_of(group)
    with commit():
        meeting = make_meeting(group)
    with commit():
        services.meeting_update(
            actor=coordinator,
            meeting=meeting,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
            invitees=[coordinator],
        )
    _invitation, removal = calendars_sent_to(member)
    assert removal["METHOD"] == "CANCEL"
    event = only_event(removal)
    assert str(event["UID"]) == meeting.uid
    assert attendees(event) == {member.email}


def test_changing_only_the_invitees_raises_the_sequence_and_updates_everyone_left(
    group, member, commit
):
    coordinator = coordinator_of(group)
    newcomer = add_member(group)
    with commit():
        meeting = make_meeting(group, invitees=[coordinator, member])
    with commit():
        services.meeting_update(
            actor=coordinator,
            meeting=meeting,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
            invitees=[coordinator, newcomer],
        )
    meeting.refresh_from_db()
    assert meeting.sequence == 1

    # The removed person's CANCEL outranks the REQUEST their calendar holds.
    invitation, removal = (only_event(c) for c in calendars_sent_to(member))
    assert calendars_sent_to(member)[1]["METHOD"] == "CANCEL"
    assert (invitation["SEQUENCE"], removal["SEQUENCE"]) == (0, 1)
    assert str(removal["UID"]) == meeting.uid

    # The one who stays gets the new attendee list, with a higher SEQUENCE.
    first, update = calendars_sent_to(coordinator)
    assert update["METHOD"] == "REQUEST"
    assert only_event(first)["SEQUENCE"] == 0
    assert attendees(only_event(first)) == {coordinator.email, member.email}
    assert only_event(update)["SEQUENCE"] == 1
    assert str(only_event(update)["UID"]) == meeting.uid
    assert attendees(only_event(update)) == {coordinator.email, newcomer.email}

    # The newcomer's invitation is at the same, new SEQUENCE.
    (welcome,) = calendars_sent_to(newcomer)
    assert welcome["METHOD"] == "REQUEST"
    assert only_event(welcome)["SEQUENCE"] == 1
    assert attendees(only_event(welcome)) == {coordinator.email, newcomer.email}


def test_switching_to_all_members_without_a_new_invitee_changes_nothing(group, member, commit):
    coordinator = coordinator_of(group)
    with commit():
        meeting = make_meeting(group, invitees=[coordinator, member])
    mail.outbox.clear()
    with commit():
        services.meeting_update(
            actor=coordinator,
            meeting=meeting,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
            invitees=None,
        )
    meeting.refresh_from_db()
    assert meeting.invite_all
    assert meeting.sequence == 0
    assert mail.outbox == []


def test_answers_show_as_partstat_in_later_updates(group, member, commit):
    with commit():
        meeting = make_meeting(group)
    services.meeting_answer(actor=member, meeting=meeting, answer="maybe")
    with commit():
        services.meeting_update(
            actor=coordinator_of(group),
            meeting=meeting,
            title="Renamed plenary",
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
        )
    event = only_event(calendars_sent_to(member)[-1])
    (mine,) = [a for a in event["ATTENDEE"] if str(a) == f"mailto:{member.email}"]
    assert mine.params["PARTSTAT"] == "TENTATIVE"


def test_the_download_is_a_published_event_without_attendees(
    client, group, member, helsinki_meeting
):
    client.force_login(member)
    response = client.get(
        reverse("meetings:ics", kwargs={"slug": group.slug, "pk": helsinki_meeting.pk})
    )
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    cal = Calendar.from_ical(response.content)
    assert cal["METHOD"] == "PUBLISH"
    event = only_event(cal)
    assert str(event["UID"]) == helsinki_meeting.uid
    assert datetime(2027, 3, 30, 11, 0, tzinfo=HELSINKI) == event.DTSTART
    assert "ATTENDEE" not in event and "ORGANIZER" not in event


# --- The personal feed -------------------------------------------------------


@pytest.fixture
def feed_world(group, member):
    """A Lisbon member of two groups, with meetings in three zones around both changes."""
    other = make_group(slug="second-group")
    add_member(other, member)
    member.timezone = "Europe/Lisbon"
    member.save()
    meetings = {
        "lisbon": make_meeting(
            group,
            title="Lisbon, before the spring change",
            starts_at=local(2027, 3, 26, 9, 0),
            ends_at=local(2027, 3, 26, 10, 0),
            timezone_name="Europe/Lisbon",
        ),
        "brussels": make_meeting(
            other,
            title="Brussels, after the spring change",
            starts_at=local(2027, 3, 29, 14, 0),
            ends_at=local(2027, 3, 29, 15, 30),
            timezone_name="Europe/Brussels",
        ),
        "helsinki": make_meeting(
            group,
            title="Helsinki, after the autumn change",
            starts_at=local(2027, 11, 2, 10, 0),
            ends_at=local(2027, 11, 2, 12, 0),
            timezone_name="Europe/Helsinki",
        ),
        "cancelled": make_meeting(group, title="Cancelled one", starts_at=local(2027, 4, 5, 10)),
    }
    services.meeting_cancel(
        actor=coordinator_of(group), meeting=meetings["cancelled"], reason="Not needed."
    )
    make_meeting(make_group(slug="not-mine"), title="Not my group")
    return meetings


def test_the_feed_holds_all_my_groups_meetings_with_correct_zones(client, member, feed_world):
    feed = services.calendar_feed_of(user=member)
    response = client.get(reverse("meetings:feed", kwargs={"token": feed.token}))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    cal = Calendar.from_ical(response.content)
    cal.validate()
    assert cal["METHOD"] == "PUBLISH"
    events = {str(e["SUMMARY"]): e for e in cal.events}
    assert set(events) == {
        "Lisbon, before the spring change",
        "Brussels, after the spring change",
        "Helsinki, after the autumn change",
        "Cancelled one",
    }
    expected = {
        "Lisbon, before the spring change": (
            "Europe/Lisbon",
            datetime(2027, 3, 26, 9, 0, tzinfo=UTC),
        ),
        "Brussels, after the spring change": (
            "Europe/Brussels",
            datetime(2027, 3, 29, 12, 0, tzinfo=UTC),
        ),
        "Helsinki, after the autumn change": (
            "Europe/Helsinki",
            datetime(2027, 11, 2, 8, 0, tzinfo=UTC),
        ),
    }
    for title, (tzid, utc_start) in expected.items():
        event = events[title]
        assert event["DTSTART"].params["TZID"] == tzid
        assert event.DTSTART.astimezone(UTC) == utc_start
        assert str(event["STATUS"]) == "CONFIRMED"
        assert str(event["UID"]) == feed_world[title.split(",")[0].lower()].uid
    cancelled = events["Cancelled one"]
    assert str(cancelled["STATUS"]) == "CANCELLED"
    assert cancelled["SEQUENCE"] == 1
    assert {str(z["TZID"]) for z in cal.timezones} == {
        "Europe/Lisbon",
        "Europe/Brussels",
        "Europe/Helsinki",
    }
    # The VTIMEZONE rules themselves give the right offsets on both sides of the change.
    lisbon = next(z for z in cal.timezones if str(z["TZID"]) == "Europe/Lisbon").to_tz()
    assert datetime(2027, 3, 26, 9, 0, tzinfo=lisbon).utcoffset() == timedelta(0)
    assert datetime(2027, 3, 29, 9, 0, tzinfo=lisbon).utcoffset() == timedelta(hours=1)


def test_a_feed_with_no_meetings_is_still_a_valid_calendar(client):
    user = UserFactory(timezone="Europe/Helsinki")
    feed = services.calendar_feed_of(user=user)
    response = client.get(reverse("meetings:feed", kwargs={"token": feed.token}))
    cal = Calendar.from_ical(response.content)
    cal.validate()
    assert cal.events == []
    assert [str(z["TZID"]) for z in cal.timezones] == ["Europe/Helsinki"]


def test_a_wrong_or_renewed_token_answers_404(client, member, feed_world):
    old = services.calendar_feed_of(user=member).token
    assert (
        client.get(reverse("meetings:feed", kwargs={"token": "not-the-token"})).status_code == 404
    )
    new = services.calendar_feed_regenerate(user=member).token
    assert client.get(reverse("meetings:feed", kwargs={"token": old})).status_code == 404
    assert client.get(reverse("meetings:feed", kwargs={"token": new})).status_code == 200


def test_the_feed_of_a_deactivated_account_answers_404(client, member):
    token = services.calendar_feed_of(user=member).token
    member.is_active = False
    member.save()
    assert client.get(reverse("meetings:feed", kwargs={"token": token})).status_code == 404


def test_a_member_who_left_no_longer_sees_the_groups_meetings_in_the_feed(client, group, member):
    from groups import services as group_services

    make_meeting(group, title="Before leaving")
    token = services.calendar_feed_of(user=member).token
    group_services.membership_leave(actor=member, group=group)
    cal = Calendar.from_ical(client.get(reverse("meetings:feed", kwargs={"token": token})).content)
    assert cal.events == []


def test_the_feed_is_built_with_a_fixed_number_of_queries(
    client, group, member, django_assert_max_num_queries
):
    token = services.calendar_feed_of(user=member).token
    url = reverse("meetings:feed", kwargs={"token": token})
    for day in range(40):
        make_meeting(
            group, starts_at=datetime(2027, 4, 1, 9, tzinfo=BRUSSELS) + timedelta(days=day)
        )
    with django_assert_max_num_queries(4):
        response = client.get(url)
    assert len(Calendar.from_ical(response.content).events) == 40


def test_lisbon_times_in_the_feed_follow_the_lisbon_rules(client, group, member):
    make_meeting(
        group,
        title="Summer",
        starts_at=datetime(2027, 7, 1, 9, 0, tzinfo=LISBON),
        timezone_name="Europe/Lisbon",
    )
    token = services.calendar_feed_of(user=member).token
    cal = Calendar.from_ical(client.get(reverse("meetings:feed", kwargs={"token": token})).content)
    event = only_event(cal)
    assert datetime(2027, 7, 1, 9, 0, tzinfo=LISBON) == event.DTSTART
    assert event.DTSTART.astimezone(UTC).hour == 8
