"""Group authorization beyond the persona table of tests/test_authorization_matrix.py:
forged ids, and joining a group that has not started."""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse

from groups.models import Membership
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

pytestmark = pytest.mark.django_db

LOGIN = "login"
OK = HTTPStatus.OK
REDIRECT = HTTPStatus.FOUND
NF = HTTPStatus.NOT_FOUND

PERSONAS = ["anonymous", "outsider", "other_member", "member", "coordinator", "secretariat"]


@pytest.fixture
def world(db):
    group = make_group(slug="target")
    other = make_group(slug="elsewhere")
    users = {
        "anonymous": None,
        "outsider": UserFactory(),
        "other_member": add_member(other),
        "member": add_member(group),
        "coordinator": coordinator_of(group),
        "secretariat": make_secretariat(UserFactory()),
    }
    return {"users": users}


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
