"""Meetings authorization beyond the persona table of tests/test_authorization_matrix.py:
forged ids, the calendar feed's token, removed members, the secretariat without MFA."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse

from meetings import services
from meetings.models import DatePoll, Meeting
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group
from tests.urlwalk import all_routes

from .factories import frozen, make_meeting, make_poll

pytestmark = pytest.mark.django_db

OK = HTTPStatus.OK
NF = HTTPStatus.NOT_FOUND

#: Routes whose ``pk`` is the past meeting (attendance and minutes come after the start).
PAST = {"meetings:attendance", "meetings:minutes"}
POLL = {"meetings:poll_detail", "meetings:poll_vote", "meetings:poll_close", "meetings:poll_cancel"}


@pytest.fixture
def world(clock):
    group = make_group(slug="target")
    other = make_group(slug="elsewhere")
    member = add_member(group)
    past = make_meeting(group, title="Last week")
    clock.move_to(past.ends_at + timedelta(hours=1))
    upcoming = make_meeting(group, title="Next week")
    poll = make_poll(group)
    foreign_meeting = make_meeting(other, title="Not yours")
    foreign_poll = make_poll(other, title="Not yours either")
    users = {"member": member, "coordinator": coordinator_of(group)}
    return {
        "group": group,
        "users": users,
        "past": past,
        "upcoming": upcoming,
        "poll": poll,
        "foreign_meeting": foreign_meeting,
        "foreign_poll": foreign_poll,
        "token": services.calendar_feed_of(user=member).token,
    }


def url_for(name: str, world, *, pk: int | None = None) -> str:
    route = next(r for r in all_routes() if r.name == name)
    if pk is None:
        pk = (
            world["past"].pk
            if name in PAST
            else world["poll"].pk
            if name in POLL
            else world["upcoming"].pk
        )
    values = {"slug": world["group"].slug, "pk": pk, "token": world["token"]}
    return reverse(name, kwargs={k: values[k] for k in route.kwargs_names})


# Another group's meeting or poll id under this group's address: 404, even for the coordinator,
# and nothing changes. (A member asking a coordinator-only route gets 403 before any lookup,
# whichever meeting id is given: the answer reveals nothing.)
MEETING_ROUTES = [
    ("meetings:detail", "get"),
    ("meetings:ics", "get"),
    ("meetings:edit", "get"),
    ("meetings:edit", "post"),
    ("meetings:cancel", "post"),
    ("meetings:answer", "post"),
    ("meetings:attendance", "post"),
    ("meetings:minutes", "post"),
]
POLL_ROUTES = [
    ("meetings:poll_detail", "get"),
    ("meetings:poll_vote", "post"),
    ("meetings:poll_close", "post"),
    ("meetings:poll_cancel", "post"),
]


def _who_may_use(routes):
    """Coordinators may use every route; members only those their own meetings allow."""
    member_routes = {
        "meetings:detail",
        "meetings:ics",
        "meetings:answer",
        "meetings:poll_detail",
        "meetings:poll_vote",
    }
    return [
        (name, method, persona)
        for name, method in routes
        for persona in ("member", "coordinator")
        if persona == "coordinator" or name in member_routes
    ]


@pytest.mark.parametrize(("name", "method", "persona"), _who_may_use(MEETING_ROUTES))
def test_another_groups_meeting_under_this_groups_address_is_404(
    client, world, name, method, persona
):
    client.force_login(world["users"][persona])
    foreign = world["foreign_meeting"]
    url = url_for(name, world, pk=foreign.pk)
    response = getattr(client, method)(url, {"answer": "yes", "reason": "Gone", "minutes": "x"})
    assert response.status_code == NF
    foreign.refresh_from_db()
    assert foreign.state == Meeting.State.SCHEDULED and foreign.minutes == ""
    assert not foreign.invitees.exclude(answer="").exists()


@pytest.mark.parametrize(("name", "method", "persona"), _who_may_use(POLL_ROUTES))
def test_another_groups_poll_under_this_groups_address_is_404(client, world, name, method, persona):
    client.force_login(world["users"][persona])
    foreign = world["foreign_poll"]
    slot = foreign.slots.first()
    url = url_for(name, world, pk=foreign.pk)
    response = getattr(client, method)(url, {f"slot-{slot.pk}": "yes", "slot": slot.pk})
    assert response.status_code == NF
    foreign.refresh_from_db()
    assert foreign.state == DatePoll.State.OPEN
    assert not foreign.votes.exists()


def test_the_feed_with_a_wrong_token_is_404_for_everyone(client, world):
    assert client.get(reverse("meetings:feed", kwargs={"token": "x" * 43})).status_code == NF
    client.force_login(world["users"]["member"])
    assert client.get(reverse("meetings:feed", kwargs={"token": "x" * 43})).status_code == NF


def test_the_feed_sets_no_cookie_and_is_private(client, world):
    response = client.get(reverse("meetings:feed", kwargs={"token": world["token"]}))
    assert response.status_code == OK
    assert "private" in response["Cache-Control"]
    assert settings.SESSION_COOKIE_NAME not in response.cookies


def test_a_removed_member_loses_access_at_once(client, world):
    from groups import services as group_services
    from groups.models import Membership

    member = world["users"]["member"]
    membership = Membership.objects.get(user=member, group=world["group"], state="active")
    membership.group = world["group"]
    group_services.membership_remove(actor=world["users"]["coordinator"], membership=membership)
    client.force_login(member)
    assert client.get(url_for("meetings:detail", world)).status_code == NF
    assert client.get(url_for("meetings:poll_detail", world)).status_code == NF


def test_secretariat_without_two_factor_sees_nothing_private(client, world):
    staff = make_secretariat(UserFactory(), with_mfa=False)
    client.force_login(staff)
    assert client.get(url_for("meetings:group_list", world)).status_code == NF


def test_a_poll_past_its_closing_time_cannot_be_voted_on_through_the_address(client, world):
    with frozen(world["poll"].closes_at + timedelta(minutes=1)):
        client.force_login(world["users"]["member"])
        vote = {f"slot-{world['poll'].slots.first().pk}": "yes"}
        client.post(url_for("meetings:poll_vote", world), vote)
    assert not world["poll"].votes.exists()
