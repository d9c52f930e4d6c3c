"""Times across zones and daylight-saving changes: stored in UTC, refused when ambiguous.

In 2027 summer time starts in the EU on 28 March at 01:00 UTC and ends on 31
October at 01:00 UTC — the same instant in Lisbon (01:00 local), Brussels
(02:00) and Helsinki (03:00), at three different wall-clock hours.
"""

from datetime import datetime
from http import HTTPStatus

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from meetings.models import Meeting
from meetings.services import MeetingError
from meetings.timezones import local_to_utc, utc_to_local
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of

from .factories import BRUSSELS, HELSINKI, LISBON, UTC, local, make_meeting

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("zone", "wall_clock"),
    [
        ("Europe/Lisbon", local(2027, 3, 28, 1, 30)),
        ("Europe/Brussels", local(2027, 3, 28, 2, 30)),
        ("Europe/Helsinki", local(2027, 3, 28, 3, 0)),
        ("Europe/Helsinki", local(2027, 3, 28, 3, 59)),
    ],
)
def test_a_time_skipped_by_the_spring_change_is_refused(zone, wall_clock):
    with pytest.raises(ValidationError) as caught:
        local_to_utc(wall_clock, zone)
    assert caught.value.code == "nonexistent_time"
    message = caught.value.messages[0]
    assert wall_clock.strftime("%H:%M") in message
    assert zone in message
    assert "does not exist" in message


@pytest.mark.parametrize(
    ("zone", "wall_clock"),
    [
        ("Europe/Lisbon", local(2027, 10, 31, 1, 30)),
        ("Europe/Brussels", local(2027, 10, 31, 2, 0)),
        ("Europe/Brussels", local(2027, 10, 31, 2, 59)),
        ("Europe/Helsinki", local(2027, 10, 31, 3, 30)),
    ],
)
def test_a_time_repeated_by_the_autumn_change_is_refused(zone, wall_clock):
    with pytest.raises(ValidationError) as caught:
        local_to_utc(wall_clock, zone)
    assert caught.value.code == "ambiguous_time"
    assert "happens twice" in caught.value.messages[0]


@pytest.mark.parametrize(
    ("zone", "before", "after"),
    [
        ("Europe/Lisbon", local(2027, 3, 28, 0, 59), local(2027, 3, 28, 2, 0)),
        ("Europe/Brussels", local(2027, 3, 28, 1, 59), local(2027, 3, 28, 3, 0)),
        ("Europe/Helsinki", local(2027, 3, 28, 2, 59), local(2027, 3, 28, 4, 0)),
    ],
)
def test_the_spring_change_happens_at_the_same_utc_instant_in_the_three_zones(zone, before, after):
    assert local_to_utc(before, zone) == datetime(2027, 3, 28, 0, 59, tzinfo=UTC)
    assert local_to_utc(after, zone) == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)


def test_the_hour_after_the_repeated_hour_is_accepted_with_the_winter_offset():
    assert local_to_utc(local(2027, 10, 31, 3, 0), "Europe/Brussels") == datetime(
        2027, 10, 31, 2, 0, tzinfo=UTC
    )
    assert local_to_utc(local(2027, 10, 31, 1, 59), "Europe/Brussels") == datetime(
        2027, 10, 30, 23, 59, tzinfo=UTC
    )


def test_the_same_wall_clock_time_moves_by_an_hour_in_utc_across_the_change():
    before = local_to_utc(local(2027, 3, 25, 10, 0), "Europe/Brussels")
    after = local_to_utc(local(2027, 4, 1, 10, 0), "Europe/Brussels")
    assert before == datetime(2027, 3, 25, 9, 0, tzinfo=UTC)
    assert after == datetime(2027, 4, 1, 8, 0, tzinfo=UTC)
    assert utc_to_local(after, "Europe/Brussels") == local(2027, 4, 1, 10, 0)


def test_an_aware_time_is_only_converted():
    moment = datetime(2027, 10, 31, 2, 30, tzinfo=BRUSSELS, fold=1)
    assert local_to_utc(moment, "Europe/Helsinki") == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)


def test_an_unknown_zone_is_refused():
    with pytest.raises(ValidationError) as caught:
        local_to_utc(local(2027, 5, 1), "Mars/Olympus_Mons")
    assert caught.value.code == "unknown_zone"


# --- Through the service and the views -------------------------------------


def test_scheduling_at_a_skipped_time_saves_nothing_and_says_why(group, commit):
    with commit(), pytest.raises(MeetingError) as caught:
        make_meeting(
            group,
            starts_at=local(2027, 3, 28, 2, 30),
            ends_at=local(2027, 3, 28, 4, 0),
            timezone_name="Europe/Brussels",
        )
    assert "does not exist" in caught.value.message_dict["starts_at"][0]
    assert Meeting.objects.count() == 0
    assert mail.outbox == []


def test_scheduling_at_a_repeated_time_saves_nothing_and_says_why(group, commit):
    with commit(), pytest.raises(MeetingError) as caught:
        make_meeting(
            group,
            starts_at=local(2027, 10, 31, 1, 0),
            ends_at=local(2027, 10, 31, 1, 30),
            timezone_name="Europe/Lisbon",
        )
    assert "happens twice" in caught.value.message_dict["ends_at"][0]
    assert Meeting.objects.count() == 0


def test_a_meeting_planned_in_helsinki_is_stored_in_utc(group):
    meeting = make_meeting(
        group,
        starts_at=local(2027, 3, 30, 11, 0),
        ends_at=local(2027, 3, 30, 13, 0),
        timezone_name="Europe/Helsinki",
    )
    meeting.refresh_from_db()
    assert meeting.starts_at == datetime(2027, 3, 30, 8, 0, tzinfo=UTC)
    assert meeting.ends_at == datetime(2027, 3, 30, 10, 0, tzinfo=UTC)
    assert meeting.timezone == "Europe/Helsinki"


@pytest.mark.parametrize(
    ("viewer_zone", "shown"),
    [
        ("Europe/Lisbon", '09:00–11:00</time> <span class="zone">Europe/Lisbon</span>'),
        ("Europe/Brussels", '10:00–12:00</time> <span class="zone">Europe/Brussels</span>'),
        ("Europe/Helsinki", '11:00–13:00</time> <span class="zone">Europe/Helsinki</span>'),
    ],
)
def test_each_member_sees_the_meeting_in_their_own_zone_with_the_zone_named(
    client, group, viewer_zone, shown
):
    viewer = add_member(group, UserFactory(timezone=viewer_zone))
    # Planned in Helsinki after the spring change: 11:00 EEST = 08:00 UTC.
    meeting = make_meeting(
        group,
        starts_at=local(2027, 3, 30, 11, 0),
        ends_at=local(2027, 3, 30, 13, 0),
        timezone_name="Europe/Helsinki",
    )
    client.force_login(viewer)
    html = client.get(meeting.get_absolute_url()).content.decode()
    assert shown in html
    if viewer_zone != "Europe/Helsinki":
        assert "Tue 30 Mar 2027, 11:00–13:00 in Europe/Helsinki" in html


def test_the_form_refuses_a_skipped_time_at_the_field_and_saves_nothing(client, group, commit):
    client.force_login(coordinator_of(group))
    with commit():
        response = client.post(
            reverse("meetings:schedule", kwargs={"slug": group.slug}),
            {
                "title": "Night session",
                "starts_at": "2027-03-28T02:30",
                "ends_at": "2027-03-28T04:00",
                "timezone": "Europe/Brussels",
                "invite": "all",
            },
        )
    assert response.status_code == HTTPStatus.OK
    form = response.context["form"]
    assert "does not exist" in form.errors["starts_at"][0]
    assert "ends_at" not in form.errors
    assert 'aria-invalid="true"' in response.content.decode()
    assert Meeting.objects.count() == 0
    assert mail.outbox == []


def test_the_time_zone_select_defaults_to_the_users_zone(client, group):
    coordinator = coordinator_of(group)
    coordinator.timezone = "Europe/Lisbon"
    coordinator.save()
    client.force_login(coordinator)
    response = client.get(reverse("meetings:schedule", kwargs={"slug": group.slug}))
    assert response.context["form"]["timezone"].value() == "Europe/Lisbon"
    assert '<option value="Europe/Lisbon" selected>' in response.content.decode()


def test_editing_shows_the_times_as_planned_in_the_meetings_zone(client, group):
    meeting = make_meeting(
        group,
        starts_at=local(2027, 4, 2, 9, 0),
        ends_at=local(2027, 4, 2, 10, 30),
        timezone_name="Europe/Lisbon",
    )
    client.force_login(coordinator_of(group))  # a Brussels user
    response = client.get(reverse("meetings:edit", kwargs={"slug": group.slug, "pk": meeting.pk}))
    html = response.content.decode()
    assert 'value="2027-04-02T09:00"' in html
    assert 'value="2027-04-02T10:30"' in html
    assert '<option value="Europe/Lisbon" selected>' in html


def test_lisbon_and_helsinki_are_two_hours_apart_all_year(group):
    winter = make_meeting(
        group, starts_at=datetime(2027, 3, 10, 9, 0, tzinfo=LISBON), timezone_name="Europe/Lisbon"
    )
    summer = make_meeting(
        group, starts_at=datetime(2027, 7, 10, 9, 0, tzinfo=LISBON), timezone_name="Europe/Lisbon"
    )
    assert winter.starts_at.astimezone(HELSINKI).hour == 11
    assert summer.starts_at.astimezone(HELSINKI).hour == 11
    assert winter.starts_at.astimezone(UTC).hour == 9
    assert summer.starts_at.astimezone(UTC).hour == 8
