"""Every group URL against every persona: each cell is the expected answer."""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse

from groups.models import ExtensionRequest, Membership
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group
from tests.urlwalk import all_routes

pytestmark = pytest.mark.django_db

LOGIN = "login"
OK = HTTPStatus.OK
REDIRECT = HTTPStatus.FOUND
NF = HTTPStatus.NOT_FOUND
FORBID = HTTPStatus.FORBIDDEN
NA = HTTPStatus.METHOD_NOT_ALLOWED

PERSONAS = ["anonymous", "outsider", "other_member", "member", "coordinator", "secretariat"]

# route -> (method, expected per persona in PERSONAS order)
TABLE = {
    "groups:public_detail": ("get", [OK, OK, OK, OK, OK, OK]),
    "groups:detail": ("get", [LOGIN, NF, NF, OK, OK, OK]),
    "groups:members": ("get", [LOGIN, NF, NF, OK, OK, OK]),
    "groups:activity": ("get", [LOGIN, NF, NF, OK, OK, OK]),
    "groups:chat": ("get", [LOGIN, NF, NF, OK, OK, OK]),
    "groups:chat_history": ("get", [LOGIN, NF, NF, OK, OK, OK]),
    "groups:chat_export": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    # The target group's extension request is pending: its coordinator is sent back to
    # the group page with the reason (test_views covers the form and an expired group).
    "groups:extension_request": ("get", [LOGIN, NF, NF, FORBID, REDIRECT, FORBID]),
    "groups:edit": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:secretariat_dashboard": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:create": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:audit": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:export_groups": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:export_mandates": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:export_memberships": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:invitation": ("get", [OK, OK, OK, OK, OK, OK]),
    # Writes: a non-member gets 404 (the group's private side does not exist for them).
    "groups:join": ("post", [LOGIN, REDIRECT, REDIRECT, OK, OK, REDIRECT]),
    "groups:leave": ("post", [LOGIN, NF, NF, REDIRECT, REDIRECT, REDIRECT]),
    "groups:confirm_term": ("post", [LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID]),
    "groups:invite": ("post", [LOGIN, NF, NF, NF, REDIRECT, REDIRECT]),
    "groups:membership_action": ("post", [LOGIN, NF, NF, NF, REDIRECT, REDIRECT]),
    "groups:close": ("post", [LOGIN, FORBID, FORBID, FORBID, FORBID, REDIRECT]),
    "groups:archive": ("post", [LOGIN, FORBID, FORBID, FORBID, FORBID, REDIRECT]),
    "groups:appoint": ("post", [LOGIN, FORBID, FORBID, FORBID, FORBID, REDIRECT]),
    # The secretariat reads every chat but writes only in groups it is a member of.
    "groups:chat_post": ("post", [LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID]),
    "groups:extension_decide": ("post", [LOGIN, FORBID, FORBID, FORBID, FORBID, REDIRECT]),
    # Archive packages: the secretariat only (an active group has none: 404 for a package id).
    "groups:archive_package": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:archive_package_status": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, OK]),
    "groups:archive_package_download": ("get", [LOGIN, FORBID, FORBID, FORBID, FORBID, NF]),
    "groups:archive_package_rebuild": ("post", [LOGIN, FORBID, FORBID, FORBID, FORBID, REDIRECT]),
    "groups:archive_package_check": ("post", [LOGIN, FORBID, FORBID, FORBID, FORBID, NF]),
}


@pytest.fixture
def world(db):
    group = make_group(slug="target")
    other = make_group(slug="elsewhere")
    member = add_member(group)
    pending = Membership.objects.create(
        user=UserFactory(), group=group, state="requested", motivation="Please let me join."
    )
    invitation_token = (
        __import__("groups.services", fromlist=["x"])
        .invitation_create(actor=coordinator_of(group), group=group, email="invitee@example.org")
        .token
    )
    extension = ExtensionRequest.objects.create(
        group=group,
        mandate=group.mandates.get(),
        requested_by=coordinator_of(group),
        justification="A long enough justification for the test.",
    )
    users = {
        "anonymous": None,
        "outsider": UserFactory(),
        "other_member": add_member(other),
        "member": member,
        "coordinator": coordinator_of(group),
        "secretariat": make_secretariat(UserFactory()),
    }
    kwargs = {
        "slug": "target",
        "pk": pending.pk,
        "action": "approve",
        "token": invitation_token,
    }
    return {"users": users, "kwargs": kwargs, "extension": extension}


def url_for(name, world):
    route = next(r for r in all_routes() if r.name == name)
    kwargs = {k: world["kwargs"][k] for k in route.kwargs_names}
    if name == "groups:extension_decide":
        kwargs = {"pk": world["extension"].pk}
    return reverse(name, kwargs=kwargs)


def test_every_group_route_is_in_the_table():
    names = {r.name for r in all_routes() if r.name.startswith("groups:")}
    assert names == set(TABLE), f"untested: {names - set(TABLE)}; stale: {set(TABLE) - names}"


CASES = [(name, i) for name in TABLE for i in range(len(PERSONAS))]


@pytest.mark.parametrize(("name", "index"), CASES, ids=[f"{n}-{PERSONAS[i]}" for n, i in CASES])
def test_group_route_answers_each_persona_as_expected(client, world, name, index):
    persona = PERSONAS[index]
    method, expected = TABLE[name]
    user = world["users"][persona]
    if user is not None:
        client.force_login(user)
    url = url_for(name, world)
    data = {}
    if name == "groups:join":
        data = {"motivation": "I would like to contribute to this group."}
    response = getattr(client, method)(url, data)
    want = expected[index]
    if want == LOGIN:
        assert response.status_code == REDIRECT
        assert response["Location"].startswith(reverse(settings.LOGIN_URL))
    else:
        assert response.status_code == want, f"{persona} {method.upper()} {url}"


def test_forged_post_for_another_groups_membership_changes_nothing(client, world):
    """A coordinator of one group cannot act on a request of another group by swapping ids."""
    other_group = make_group(slug="third")
    foreign = Membership.objects.create(
        user=UserFactory(), group=other_group, state="requested", motivation="Let me in please."
    )
    client.force_login(world["users"]["coordinator"])
    url = reverse(
        "groups:membership_action", kwargs={"slug": "target", "pk": foreign.pk, "action": "approve"}
    )
    assert client.post(url).status_code == NF
    foreign.refresh_from_db()
    assert foreign.state == "requested"


# Asking to join a group that has not started: like its public page, it does not exist
# for those who may not see it; members and the secretariat are told why not (200).
PROPOSED_JOIN = [LOGIN, NF, NF, OK, OK, OK]


@pytest.mark.parametrize("index", range(len(PERSONAS)), ids=PERSONAS)
def test_joining_a_group_that_has_not_started_answers_each_persona_as_expected(
    client, world, index
):
    from datetime import timedelta

    from django.utils import timezone

    from portal.models import Notification

    proposed = make_group(slug="proposed", start=timezone.localdate() + timedelta(days=20))
    users = dict(world["users"])
    add_member(proposed, users["member"])
    Membership.objects.create(
        user=users["coordinator"],
        group=proposed,
        role="coordinator",
        state="active",
        started_at=timezone.now(),
    )
    user = users[PERSONAS[index]]
    if user is not None:
        client.force_login(user)
    before = Membership.objects.filter(group=proposed).count()
    response = client.post(
        reverse("groups:join", kwargs={"slug": "proposed"}),
        {"motivation": "I would like to contribute to this group."},
    )
    want = PROPOSED_JOIN[index]
    if want == LOGIN:
        assert response.status_code == REDIRECT
        assert response["Location"].startswith(reverse(settings.LOGIN_URL))
    else:
        assert response.status_code == want
    public = client.get(reverse("groups:public_detail", kwargs={"slug": "proposed"}))
    assert public.status_code == (NF if want in (NF, LOGIN) else OK)
    assert Membership.objects.filter(group=proposed).count() == before
    assert not Notification.objects.filter(title__contains="asks to join").exists()
