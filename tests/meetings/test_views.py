"""The meetings pages: forms with errors at their fields, lists, calendar, dashboard, costs."""

from datetime import date, datetime, timedelta
from http import HTTPStatus

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from groups import services as group_services
from groups.models import ExpertGroup, Membership
from meetings import services
from meetings.models import CalendarFeed, DatePoll, Invitee, Meeting, PollVote
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group
from tests.helpers import count_queries

from .factories import NOW, UTC, local, make_meeting, make_poll

pytestmark = pytest.mark.django_db


def url(name, group=None, **kwargs):
    if group is not None:
        kwargs["slug"] = group.slug
    return reverse(f"meetings:{name}", kwargs=kwargs)


def meeting_form(**overrides) -> dict:
    data = {
        "title": "Spring plenary",
        "starts_at": "2027-03-10T10:00",
        "ends_at": "2027-03-10T12:00",
        "timezone": "Europe/Brussels",
        "place": "Brussels",
        "online_url": "https://meet.example.org/plenary",
        "agenda": "1. Welcome",
        "invite": "all",
    }
    data.update(overrides)
    return data


@pytest.fixture
def coordinator_client(client, group):
    client.force_login(coordinator_of(group))
    return client


# --- Scheduling through the form ---------------------------------------------


def test_a_coordinator_schedules_a_meeting_and_everyone_gets_an_invitation(
    coordinator_client, group, member, commit
):
    with commit():
        response = coordinator_client.post(url("schedule", group), meeting_form())
    meeting = Meeting.objects.get()
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == meeting.get_absolute_url()
    assert meeting.starts_at == datetime(2027, 3, 10, 9, 0, tzinfo=UTC)
    assert len(mail.outbox) == 2
    assert all(m.attachments[0].filename == "invite.ics" for m in mail.outbox)


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"online_url": "javascript:alert(1)"}, "online_url", "https://"),
        ({"online_url": "http://meet.example.org"}, "online_url", "https://"),
        ({"ends_at": "2027-03-10T09:00"}, "ends_at", "end must come after the start"),
        ({"starts_at": "2027-02-10T10:00"}, "starts_at", "already passed"),
        ({"starts_at": "10/03/2027"}, "starts_at", "Enter a date and a time"),
        ({"timezone": "Mars/Base"}, "timezone", "Select a valid choice"),
        ({"title": ""}, "title", "This field is required"),
        ({"invite": "selection"}, "invitees", "Choose at least one member"),
    ],
)
def test_bad_input_is_shown_at_its_field_and_nothing_is_saved(
    coordinator_client, group, member, commit, overrides, field, text
):
    with commit():
        response = coordinator_client.post(url("schedule", group), meeting_form(**overrides))
    assert response.status_code == HTTPStatus.OK
    errors = response.context["form"].errors
    assert text in " ".join(errors[field]), errors
    html = response.content.decode()
    assert (
        f'id="id_{field}_error"' in html
        or f'aria-describedby="id_{field}_error' in html
        or field == "invitees"
    )
    assert Meeting.objects.count() == 0
    assert mail.outbox == []


def test_a_forged_invitee_from_another_group_is_refused_with_a_clear_message(
    coordinator_client, group, member
):
    stranger = add_member(make_group(slug="elsewhere"))
    response = coordinator_client.post(
        url("schedule", group),
        meeting_form(invite="selection", invitees=[member.pk, stranger.pk]),
    )
    assert response.context["form"].errors["invitees"] == [
        "Only members of this group can be invited."
    ]
    assert Meeting.objects.count() == 0 and Invitee.objects.count() == 0


def test_a_selection_of_invitees_through_the_form(coordinator_client, group, member, commit):
    add_member(group)
    with commit():
        coordinator_client.post(
            url("schedule", group), meeting_form(invite="selection", invitees=[member.pk])
        )
    meeting = Meeting.objects.get()
    assert list(meeting.invitees.values_list("user_id", flat=True)) == [member.pk]
    assert [m.to for m in mail.outbox] == [[member.email]]


def test_a_member_may_not_open_the_scheduling_form(client, group, member):
    client.force_login(member)
    assert client.get(url("schedule", group)).status_code == HTTPStatus.FORBIDDEN
    page = client.get(url("group_list", group)).content.decode()
    assert url("schedule", group) not in page


def test_editing_and_cancelling_through_the_forms(coordinator_client, group, member, commit):
    meeting = make_meeting(group, starts_at=local(2027, 3, 10, 10), ends_at=local(2027, 3, 10, 12))
    with commit():
        response = coordinator_client.post(
            url("edit", group, pk=meeting.pk),
            meeting_form(starts_at="2027-03-10T14:00", ends_at="2027-03-10T16:00"),
        )
    assert response.status_code == HTTPStatus.FOUND
    meeting.refresh_from_db()
    assert meeting.sequence == 1
    assert meeting.starts_at == datetime(2027, 3, 10, 13, 0, tzinfo=UTC)

    response = coordinator_client.post(url("cancel", group, pk=meeting.pk), {"reason": ""})
    assert response.status_code == HTTPStatus.OK
    assert "reason" in response.context["form"].errors
    with commit():
        coordinator_client.post(url("cancel", group, pk=meeting.pk), {"reason": "Room flooded."})
    meeting.refresh_from_db()
    assert meeting.is_cancelled
    page = coordinator_client.get(meeting.get_absolute_url()).content.decode()
    assert "Room flooded." in page
    assert url("edit", group, pk=meeting.pk) not in page
    response = coordinator_client.get(url("edit", group, pk=meeting.pk))
    assert response.status_code == HTTPStatus.FOUND


# --- Answers and the coordinator's view of them ------------------------------


def test_members_answer_and_the_coordinator_sees_who_answered_what(client, group, member):
    silent = add_member(group, UserFactory(full_name="Silent Sam"))
    meeting = make_meeting(group)
    client.force_login(member)
    response = client.post(
        url("answer", group, pk=meeting.pk), {"answer": "maybe", "comment": "Only online"}
    )
    assert response.status_code == HTTPStatus.FOUND
    invitee = Invitee.objects.get(meeting=meeting, user=member)
    assert (invitee.answer, invitee.comment) == ("maybe", "Only online")

    member_view = client.get(meeting.get_absolute_url()).content.decode()
    assert "0 yes, 1 maybe, 0 no, 2 not answered, of 3 invited." in member_view
    assert "Who answered what" not in member_view  # the details are for coordinators

    client.force_login(coordinator_of(group))
    coordinator_view = client.get(meeting.get_absolute_url())
    html = coordinator_view.content.decode()
    assert "Who answered what" in html
    assert "<td>Only online</td>" in html
    summary = coordinator_view.context["summary"]
    assert [i.user for i in summary.maybe] == [member]
    assert silent in [i.user for i in summary.waiting]


def test_an_invalid_answer_is_refused_with_a_message(client, group, member):
    meeting = make_meeting(group)
    client.force_login(member)
    response = client.post(url("answer", group, pk=meeting.pk), {"answer": "sure"}, follow=True)
    assert "Select a valid choice" in response.content.decode()
    assert Invitee.objects.get(meeting=meeting, user=member).answer == ""


def test_attendance_and_minutes_after_the_meeting(coordinator_client, group, member, clock):
    meeting = make_meeting(group)
    clock.move_to(meeting.ends_at + timedelta(hours=1))
    page = coordinator_client.get(url("attendance", group, pk=meeting.pk))
    assert page.status_code == HTTPStatus.OK
    coordinator = coordinator_of(group)
    coordinator_client.post(
        url("attendance", group, pk=meeting.pk),
        {f"user-{member.pk}": "absent", f"user-{coordinator.pk}": "present"},
    )
    assert dict(meeting.invitees.values_list("user_id", "attendance")) == {
        member.pk: "absent",
        coordinator.pk: "present",
    }
    coordinator_client.post(url("minutes", group, pk=meeting.pk), {"minutes": "Decisions: none."})
    html = coordinator_client.get(meeting.get_absolute_url()).content.decode()
    assert "Decisions: none." in html
    assert "Absent" in html and "Present" in html


# --- Date polls through the pages --------------------------------------------


def poll_form(slots: list[tuple[str, str]], **overrides) -> dict:
    data = {
        "title": "Autumn workshop",
        "timezone": "Europe/Lisbon",
        "closes_at": "2027-03-05T18:00",
        "place": "",
        "online_url": "",
        "agenda": "",
        "slots-TOTAL_FORMS": str(max(len(slots), 4)),
        "slots-INITIAL_FORMS": "0",
        "slots-MIN_NUM_FORMS": "0",
        "slots-MAX_NUM_FORMS": "30",
    }
    for i, (start, end) in enumerate(slots):
        data[f"slots-{i}-starts_at"] = start
        data[f"slots-{i}-ends_at"] = end
    data.update(overrides)
    return data


def test_a_coordinator_opens_a_poll_through_the_form(coordinator_client, group):
    response = coordinator_client.post(
        url("poll_create", group),
        poll_form(
            [
                ("2027-03-15T09:00", "2027-03-15T11:00"),
                ("", ""),
                ("2027-03-16T09:00", "2027-03-16T11:00"),
            ]
        ),
    )
    poll = DatePoll.objects.get()
    assert response["Location"] == poll.get_absolute_url()
    assert [s.starts_at for s in poll.slots.all()] == [
        datetime(2027, 3, 15, 9, 0, tzinfo=UTC),
        datetime(2027, 3, 16, 9, 0, tzinfo=UTC),
    ]


def test_a_poll_without_slots_is_refused_with_a_message(coordinator_client, group):
    response = coordinator_client.post(url("poll_create", group), poll_form([]))
    assert response.status_code == HTTPStatus.OK
    assert "Propose at least one slot." in response.content.decode()
    assert DatePoll.objects.count() == 0


def test_a_bad_slot_is_marked_at_its_own_row(coordinator_client, group):
    response = coordinator_client.post(
        url("poll_create", group),
        poll_form(
            [
                ("2027-03-15T09:00", "2027-03-15T11:00"),
                ("", ""),
                ("2027-03-28T01:30", "2027-03-28T03:00"),
            ]
        ),
    )
    slots = response.context["slots"]
    assert slots.forms[0].errors == {}
    assert "does not exist" in slots.forms[2].errors["starts_at"][0]
    assert DatePoll.objects.count() == 0


def test_half_a_slot_is_refused_at_the_field(coordinator_client, group):
    response = coordinator_client.post(
        url("poll_create", group), poll_form([("2027-03-15T09:00", "")])
    )
    assert response.context["slots"].forms[0].errors["ends_at"] == [
        "Give both the start and the end of this slot."
    ]


def test_the_poll_table_shows_each_slot_in_the_viewers_zone_with_totals(client, group, member):
    helsinki = add_member(group, UserFactory(timezone="Europe/Helsinki", full_name="Hanna"))
    poll = make_poll(
        group,
        slots=[(local(2027, 3, 15, 9), local(2027, 3, 15, 11))],
        timezone_name="Europe/Lisbon",
    )
    slot = poll.slots.get()
    services.poll_vote(actor=member, poll=poll, choices={slot.pk: "yes"})
    services.poll_vote(actor=helsinki, poll=poll, choices={slot.pk: "if_need_be"})
    client.force_login(helsinki)
    html = client.get(poll.get_absolute_url()).content.decode()
    assert 'Mon 15 Mar 2027, 11:00–13:00</time> <span class="zone">Europe/Helsinki</span>' in html
    assert "1 yes, 1 if need be, 0 no" in html
    client.force_login(member)  # Brussels
    html = client.get(poll.get_absolute_url()).content.decode()
    assert 'Mon 15 Mar 2027, 10:00–12:00</time> <span class="zone">Europe/Brussels</span>' in html


def test_voting_through_the_form(client, group, member):
    poll = make_poll(group)
    first, second, _third = poll.slots.all()
    client.force_login(member)
    response = client.post(
        url("poll_vote", group, pk=poll.pk), {f"slot-{first.pk}": "yes", f"slot-{second.pk}": "no"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert dict(PollVote.objects.values_list("slot_id", "choice")) == {
        first.pk: "yes",
        second.pk: "no",
    }


def test_voting_on_a_closed_poll_shows_a_message_and_saves_nothing(client, group, member, clock):
    poll = make_poll(group)
    slot = poll.slots.first()
    clock.move_to(poll.closes_at + timedelta(minutes=1))
    client.force_login(member)
    response = client.post(
        url("poll_vote", group, pk=poll.pk), {f"slot-{slot.pk}": "yes"}, follow=True
    )
    assert "Voting on this poll has closed." in response.content.decode()
    assert PollVote.objects.count() == 0


def test_voting_on_another_groups_poll_under_this_groups_address_is_404(client, group, member):
    other = make_group(slug="elsewhere")
    foreign = make_poll(other)
    client.force_login(member)
    response = client.post(
        url("poll_vote", group, pk=foreign.pk), {f"slot-{foreign.slots.first().pk}": "yes"}
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert PollVote.objects.count() == 0


def test_closing_the_poll_schedules_the_meeting_and_shows_it(
    coordinator_client, group, member, commit
):
    poll = make_poll(group)
    chosen = poll.slots.last()
    with commit():
        response = coordinator_client.post(
            url("poll_close", group, pk=poll.pk), {"slot": chosen.pk}
        )
    meeting = Meeting.objects.get()
    assert response["Location"] == meeting.get_absolute_url()
    assert meeting.starts_at == chosen.starts_at
    assert len(mail.outbox) == 2
    page = coordinator_client.get(meeting.get_absolute_url()).content.decode()
    assert poll.get_absolute_url() in page


def test_closing_without_choosing_a_slot_says_so(coordinator_client, group):
    poll = make_poll(group)
    response = coordinator_client.post(url("poll_close", group, pk=poll.pk), {}, follow=True)
    assert "Choose one of the proposed slots." in response.content.decode()
    assert Meeting.objects.count() == 0


# --- Archived groups ---------------------------------------------------------


def test_an_archived_group_keeps_its_meetings_and_minutes_readable_and_schedules_nothing(
    client, group, member, clock, secretariat_user
):
    meeting = make_meeting(group, starts_at=local(2027, 3, 2, 10), ends_at=local(2027, 3, 2, 12))
    clock.move_to(NOW + timedelta(days=1, hours=5))
    services.meeting_minutes_save(
        actor=coordinator_of(group), meeting=meeting, minutes="We agreed."
    )
    group_services.group_close(actor=secretariat_user, group=group, reason="Done.")
    clock.move_to(NOW + timedelta(days=3))
    group_services.group_archive(actor=secretariat_user, group=ExpertGroup.objects.get(pk=group.pk))
    client.force_login(coordinator_of(group))
    listing = client.get(url("group_list", group))
    assert listing.status_code == HTTPStatus.OK
    assert url("schedule", group) not in listing.content.decode()
    detail = client.get(meeting.get_absolute_url()).content.decode()
    assert "We agreed." in detail
    assert url("minutes", group, pk=meeting.pk) not in detail
    assert client.get(url("schedule", group)).status_code == HTTPStatus.FORBIDDEN
    assert client.get(url("poll_create", group)).status_code == HTTPStatus.FORBIDDEN
    assert client.post(url("schedule", group), meeting_form()).status_code == HTTPStatus.FORBIDDEN


# --- Across my groups ----------------------------------------------------------


def test_my_meetings_lists_my_groups_meetings_by_day_in_my_zone(client, group, member):
    other = make_group(slug="second")
    add_member(other, member)
    make_meeting(group, title="First group", starts_at=local(2027, 3, 10, 10))
    make_meeting(
        other,
        title="Second group",
        starts_at=local(2027, 3, 10, 23, 30),
        timezone_name="Europe/Lisbon",
    )
    make_meeting(make_group(slug="not-mine"), title="Not mine")
    member.timezone = "Europe/Helsinki"
    member.save()
    client.force_login(member)
    response = client.get(url("mine"))
    titles = [[m.title for m in meetings] for _day, meetings in response.context["days"]]
    # 23:30 in Lisbon is 01:30 the next day in Helsinki.
    assert titles == [["First group"], ["Second group"]]
    html = response.content.decode()
    assert "Thursday 11 March 2027" in html
    assert "Not mine" not in html


def test_the_month_calendar_puts_each_meeting_on_its_local_day(client, group, member):
    make_meeting(
        group, title="Late", starts_at=local(2027, 3, 10, 23, 30), timezone_name="Europe/Lisbon"
    )
    # 23:30–01:30 in Lisbon goes on past midnight there; in Helsinki it is 01:30–03:30.
    for zone, spanned in (("Europe/Lisbon", [10, 11]), ("Europe/Helsinki", [11])):
        member.timezone = zone
        member.save()
        client.force_login(member)
        response = client.get(reverse("meetings:month") + "?month=2027-03")
        days = [d for week in response.context["month"].weeks for d in week if d.meetings]
        assert [(d.day.day, [m.title for m in d.meetings]) for d in days] == [
            (day, ["Late"]) for day in spanned
        ]
        assert [bool(d.continued) for d in days] == [False, True][: len(spanned)]


def test_a_meeting_over_several_days_is_on_each_day_it_spans_in_my_zone(client, group, member):
    # Friday 19 March 20:00 to Sunday 21 March 14:00 in Lisbon (42 hours).
    make_meeting(
        group,
        title="Retreat",
        starts_at=local(2027, 3, 19, 20),
        ends_at=local(2027, 3, 21, 14),
        timezone_name="Europe/Lisbon",
    )
    # Ends at midnight in Brussels: not on the day that begins then.
    make_meeting(
        group, title="Evening", starts_at=local(2027, 3, 24, 20), ends_at=local(2027, 3, 25, 0)
    )
    # Wednesday 31 March 22:00 to Thursday 1 April 02:00 in Brussels: into the next month.
    make_meeting(
        group, title="Night shift", starts_at=local(2027, 3, 31, 22), ends_at=local(2027, 4, 1, 2)
    )
    expected = {
        # 20:00 Lisbon is 22:00 in Brussels and 23:00 in Helsinki, the same day.
        "Europe/Brussels": [19, 20, 21],
        # Lisbon is two hours behind Helsinki: 14:00 on the 21st is 16:00 there.
        "Europe/Helsinki": [19, 20, 21],
    }
    for zone, retreat_days in expected.items():
        member.timezone = zone
        member.save()
        client.force_login(member)
        response = client.get(reverse("meetings:month") + "?month=2027-03")
        grid = response.context["month"]
        days = {
            (d.day.month, d.day.day): [m.title for m in d.meetings]
            for week in grid.weeks
            for d in week
            if d.meetings
        }
        assert [day for (month, day), titles in days.items() if "Retreat" in titles] == (
            retreat_days
        )
        continued = {(d.day.month, d.day.day) for week in grid.weeks for d in week if d.continued}
        assert {(3, 20), (3, 21)} <= continued
        assert (3, 19) not in continued
    # Helsinki is an hour ahead of Brussels: "Evening" ends at 01:00 on the 25th there.
    assert [day for (month, day), titles in days.items() if "Evening" in titles] == [24, 25]
    assert days[(3, 31)] == ["Night shift"]
    assert days[(4, 1)] == ["Night shift"]  # April 1st is shown in the last row of March
    html = response.content.decode()
    assert html.count("(continued)") == 4  # Retreat twice, Evening once, Night shift once

    member.timezone = "Europe/Brussels"
    member.save()
    client.force_login(member)
    grid = client.get(reverse("meetings:month") + "?month=2027-03").context["month"]
    evening = [
        d.day.day for week in grid.weeks for d in week if "Evening" in [m.title for m in d.meetings]
    ]
    assert evening == [24]
    april = client.get(reverse("meetings:month") + "?month=2027-04").context["month"]
    (first_of_april,) = [d for week in april.weeks for d in week if d.day == date(2027, 4, 1)]
    assert [m.title for m in first_of_april.meetings] == ["Night shift"]
    assert first_of_april.continued == {first_of_april.meetings[0].pk}


def test_my_past_meetings_list_every_group_latest_first_by_day(client, group, member, clock):
    other = make_group(slug="second")
    add_member(other, member)
    make_meeting(group, title="Older", starts_at=local(2027, 3, 2, 10))
    make_meeting(other, title="Newer", starts_at=local(2027, 3, 4, 10))
    make_meeting(make_group(slug="not-mine"), title="Not mine", starts_at=local(2027, 3, 3, 10))
    cancelled = make_meeting(group, title="Called off", starts_at=local(2027, 3, 3, 10))
    services.meeting_cancel(actor=coordinator_of(group), meeting=cancelled, reason="Strike.")
    make_meeting(group, title="Still to come", starts_at=local(2027, 3, 20, 10))
    clock.move_to(datetime(2027, 3, 10, 9, 0, tzinfo=UTC))
    client.force_login(member)

    response = client.get(url("mine_past"))
    titles = [[m.title for m in meetings] for _day, meetings in response.context["days"]]
    assert titles == [["Newer"], ["Called off"], ["Older"]]
    html = response.content.decode()
    assert "Not mine" not in html
    assert "Still to come" not in html
    assert 'aria-current="page">Past' in html
    upcoming = client.get(url("mine")).context["days"]
    assert [[m.title for m in ms] for _d, ms in upcoming] == [["Still to come"]]


def test_my_past_meetings_are_paginated(client, settings, group, member, clock):
    settings.MEETING_PAGE_SIZE = 2
    for day in (2, 3, 4, 5, 6):
        make_meeting(group, title=f"On the {day}th", starts_at=local(2027, 3, day, 10))
    clock.move_to(datetime(2027, 3, 10, 9, 0, tzinfo=UTC))
    client.force_login(member)
    pages = [client.get(url("mine_past") + f"?page={n}").context for n in (1, 2, 3)]
    assert [[m.title for _d, ms in page["days"] for m in ms] for page in pages] == [
        ["On the 6th", "On the 5th"],
        ["On the 4th", "On the 3th"],
        ["On the 2th"],
    ]
    assert "page=2" in client.get(url("mine_past")).content.decode()


def test_a_groups_past_meetings_are_paginated_and_counted_without_the_annotations(
    client, settings, group, member, clock
):
    settings.MEETING_PAGE_SIZE = 2
    for day in (2, 3, 4, 5, 6):
        make_meeting(group, title=f"On the {day}th", starts_at=local(2027, 3, day, 10))
    clock.move_to(datetime(2027, 3, 10, 9, 0, tzinfo=UTC))
    client.force_login(member)
    pages = [client.get(url("group_list", group) + f"?page={n}").context for n in (1, 2, 3)]
    assert [[m.title for m in page["past"]] for page in pages] == [
        ["On the 6th", "On the 5th"],
        ["On the 4th", "On the 3th"],
        ["On the 2th"],
    ]
    assert pages[0]["past"].paginator.num_pages == 3
    # The past meetings are counted from the plain rows: no answer counts and no
    # viewer's answer built into the COUNT query.
    with CaptureQueriesContext(connection) as queries:
        client.get(url("group_list", group))
    counts = [q["sql"] for q in queries if q["sql"].startswith("SELECT COUNT(")]
    assert len(counts) == 1
    assert "meetings_invitee" not in counts[0]


def test_the_month_calendar_survives_a_bad_month_parameter(client, member):
    client.force_login(member)
    response = client.get(reverse("meetings:month") + "?month=2027-13")
    assert response.status_code == HTTPStatus.OK
    assert response.context["month"].month == 3


def test_the_dashboard_shows_the_next_meetings_and_open_polls(client, group, member):
    make_meeting(group, title="Coming soon")
    poll = make_poll(group, title="Pick a date")
    client.force_login(member)
    html = client.get(reverse("dashboard")).content.decode()
    assert "Next meetings" in html
    assert "Coming soon" in html
    assert poll.get_absolute_url() in html


def test_the_dashboards_lists_are_the_users_groups_and_join_no_group_row(
    group, member, django_assert_num_queries
):
    from groups.selectors import groups_of_user
    from meetings.selectors import next_meetings_of_user, open_polls_of_user

    other = make_group(slug="other-group")
    add_member(other, member)
    elsewhere = make_group(slug="not-mine")
    for g, title in ((group, "Here"), (other, "There"), (elsewhere, "Not mine")):
        make_meeting(g, title=title)
        make_poll(g, title=f"Poll {title}")
    cancelled = make_meeting(other, title="Cancelled")
    services.meeting_cancel(actor=coordinator_of(other), meeting=cancelled, reason="Moved")
    answered = make_poll(other, title="Answered")
    services.poll_vote(actor=member, poll=answered, choices={answered.slots.first().pk: "yes"})
    groups = groups_of_user(member)
    with django_assert_num_queries(2) as queries:  # the meetings, the polls
        meetings = next_meetings_of_user(member, groups=groups)
        polls = open_polls_of_user(member, groups=groups)
        names = [(m.title, m.group.slug, m.invited) for m in meetings]
        poll_names = [(p.title, p.group.slug) for p in polls]
    for query in queries:  # neither the group rows nor the memberships again
        assert "groups_expertgroup" not in query["sql"], query["sql"]
        assert "groups_membership" not in query["sql"], query["sql"]
    assert sorted(names) == [("Here", group.slug, True), ("There", "other-group", True)]
    assert sorted(poll_names) == [("Poll Here", group.slug), ("Poll There", "other-group")]
    assert next_meetings_of_user(UserFactory(), groups=[]) == []


def test_the_feed_page_creates_and_renews_the_address(client, member):
    client.force_login(member)
    assert client.get(url("feed_settings")).context["feed"] is None
    client.post(url("feed_regenerate"))
    first = CalendarFeed.objects.get(user=member).token
    page = client.get(url("feed_settings")).content.decode()
    assert f"/calendar/{first}.ics" in page
    client.post(url("feed_regenerate"))
    assert CalendarFeed.objects.get(user=member).token != first


# --- Costs ----------------------------------------------------------------------


def _bulk_meetings(group, count: int, invitees, *, start=None) -> None:
    start = start or datetime(2027, 3, 2, 8, 0, tzinfo=UTC)
    meetings = Meeting.objects.bulk_create(
        [
            Meeting(
                group=group,
                title=f"{group.slug} #{i}",
                starts_at=start + timedelta(hours=6 * i),
                ends_at=start + timedelta(hours=6 * i + 1),
                timezone="Europe/Brussels",
            )
            for i in range(count)
        ]
    )
    Invitee.objects.bulk_create([Invitee(meeting=m, user=u) for m in meetings for u in invitees])


#: 100 meetings six hours apart from here have all ended by NOW (1 March 2027).
PAST_START = datetime(2027, 2, 1, 8, 0, tzinfo=UTC)


def test_my_meetings_month_dashboard_and_feed_cost_the_same_for_10_groups_of_500_meetings(
    client, member
):
    """The issue's case: a user in 10 groups with 500 meetings each."""
    client.force_login(member)
    token = services.calendar_feed_of(user=member).token
    pages = [
        url("mine"),
        url("mine") + "?page=3",
        url("mine_past"),
        url("mine_past") + "?page=3",
        reverse("meetings:month") + "?month=2027-04",
        reverse("dashboard"),
        reverse("meetings:feed", kwargs={"token": token}),
    ]
    small = make_group(slug="small")
    add_member(small, member)
    # More than a page of each already: a list that fits on one page is read without
    # a count (portal.pagination), so the baseline counts as the big lists do.
    size = settings.MEETING_PAGE_SIZE + 1
    _bulk_meetings(small, size, [member])
    _bulk_meetings(small, size, [member], start=datetime(2027, 1, 1, 8, 0, tzinfo=UTC))
    for page in pages:
        client.get(page)  # warm up sessions, content types
    before = {page: count_queries(lambda page=page: client.get(page)) for page in pages}

    for n in range(10):
        big = make_group(slug=f"big-{n}")
        add_member(big, member)
        _bulk_meetings(big, 400, [member, coordinator_of(big)])
        _bulk_meetings(big, 100, [member, coordinator_of(big)], start=PAST_START)
    assert Meeting.objects.count() == 5000 + 2 * size
    assert Meeting.objects.filter(ends_at__lt=timezone.now()).count() == 1000 + size
    after = {page: count_queries(lambda page=page: client.get(page)) for page in pages}
    assert after == before


def test_the_group_meetings_page_does_not_grow_with_meetings_or_invitees(client, group, member):
    from tests.helpers import assert_queries_do_not_grow

    client.force_login(member)
    page = url("group_list", group)

    def grow():
        extra = add_member(group)
        make_meeting(group, starts_at=local(2027, 3, 20, 10))
        services.meeting_answer(actor=extra, meeting=Meeting.objects.last(), answer="yes")
        make_poll(group)

    assert_queries_do_not_grow(lambda: client.get(page), grow)


def test_the_meeting_page_does_not_grow_with_invitees(client, group, member):
    from tests.helpers import assert_queries_do_not_grow

    meeting = make_meeting(group)
    client.force_login(coordinator_of(group))

    def grow():
        user = add_member(group)
        Invitee.objects.create(meeting=meeting, user=user, answer="yes")

    assert_queries_do_not_grow(lambda: client.get(meeting.get_absolute_url()), grow)


def test_the_poll_page_does_not_grow_with_votes(client, group, member):
    from tests.helpers import assert_queries_do_not_grow

    poll = make_poll(group)
    client.force_login(coordinator_of(group))

    def grow():
        user = add_member(group)
        services.poll_vote(actor=user, poll=poll, choices={s.pk: "yes" for s in poll.slots.all()})

    assert_queries_do_not_grow(lambda: client.get(poll.get_absolute_url()), grow)


def test_a_member_who_left_sees_no_meetings_of_the_group(client, group, member):
    make_meeting(group, title="After I left")
    Membership.objects.filter(user=member).update(state="left", ended_at=timezone.now())
    client.force_login(member)
    assert "After I left" not in client.get(url("mine")).content.decode()


def test_an_invitee_id_past_64_bits_is_refused_like_a_stranger(coordinator_client, group, member):
    """Found by tests/hostile: SQLite raised OverflowError on it (a 500)."""
    response = coordinator_client.post(
        url("schedule", group), meeting_form(invite="selection", invitees=[str(2**63)])
    )
    assert response.context["form"].errors["invitees"] == [
        "Only members of this group can be invited."
    ]
    assert Meeting.objects.count() == 0
