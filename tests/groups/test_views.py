from datetime import timedelta
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone

from groups.models import ExtensionRequest, Mandate, Membership
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group
from tests.helpers import assert_queries_do_not_grow

pytestmark = pytest.mark.django_db


def test_home_lists_current_and_past_groups_without_private_text(client):
    staff = make_secretariat(UserFactory())
    current = make_group(name="Mental Health", actor=staff, description="SECRET-NOTES")
    make_group(name="Future Group", start=timezone.localdate() + timedelta(days=30), actor=staff)
    response = client.get(reverse("home"))
    body = response.content.decode()
    assert "Mental Health" in body
    assert "Future Group" not in body  # proposed groups are not public yet
    assert "SECRET-NOTES" not in body
    assert current in response.context["current_groups"]


def test_public_page_hides_the_private_description(client):
    group = make_group(description="SECRET-NOTES")
    response = client.get(reverse("groups:public_detail", args=[group.slug]))
    assert response.status_code == HTTPStatus.OK
    assert "SECRET-NOTES" not in response.content.decode()


def test_member_sees_the_private_description(client):
    group = make_group(description="SECRET-NOTES")
    client.force_login(add_member(group))
    assert "SECRET-NOTES" in client.get(group.get_absolute_url()).content.decode()


def test_join_request_with_too_short_motivation_keeps_the_text_and_saves_nothing(client):
    group = make_group()
    client.force_login(UserFactory())
    response = client.post(reverse("groups:join", args=[group.slug]), {"motivation": "hi"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "motivation" in response.context["form"].errors
    assert "hi</textarea>" in response.content.decode()
    assert not Membership.objects.filter(group=group, state="requested").exists()


def test_request_then_coordinator_approves_through_the_pages(client):
    group = make_group()
    expert = UserFactory()
    client.force_login(expert)
    client.post(
        reverse("groups:join", args=[group.slug]), {"motivation": "I supervise foreign nationals."}
    )
    request = Membership.objects.get(user=expert, group=group, state="requested")
    client.force_login(coordinator_of(group))
    page = client.get(reverse("groups:members", args=[group.slug])).content.decode()
    assert "I supervise foreign nationals." in page
    client.post(reverse("groups:membership_action", args=[group.slug, request.pk, "approve"]))
    client.force_login(expert)
    assert client.get(group.get_absolute_url()).status_code == HTTPStatus.OK


def test_removing_the_last_coordinator_shows_a_clear_message(client):
    group = make_group()
    staff = make_secretariat(UserFactory())
    client.force_login(staff)
    row = Membership.objects.get(group=group, role="coordinator")
    response = client.post(
        reverse("groups:membership_action", args=[group.slug, row.pk, "remove"]), follow=True
    )
    assert "at least one coordinator" in response.content.decode()
    assert Membership.objects.get(pk=row.pk).state == "active"


def test_extension_request_and_decision_through_the_pages(client):
    group = make_group()
    client.force_login(coordinator_of(group))
    response = client.post(
        reverse("groups:extension_request", args=[group.slug]),
        {"justification": "short"},
    )
    assert response.status_code == HTTPStatus.OK and response.context["form"].errors
    client.post(
        reverse("groups:extension_request", args=[group.slug]),
        {"justification": "We need two more years to complete the comparative study."},
    )
    request = ExtensionRequest.objects.get(group=group)
    client.force_login(make_secretariat(UserFactory()))
    client.post(
        reverse("groups:extension_decide", args=[request.pk]), {"decision": "refuse", "reason": ""}
    )
    assert ExtensionRequest.objects.get().state == "pending"  # refusal without reason refused
    client.post(reverse("groups:extension_decide", args=[request.pk]), {"decision": "approve"})
    assert Mandate.objects.filter(group=group, term=2).exists()


def test_secretariat_without_mfa_is_sent_to_enrol(client):
    client.force_login(make_secretariat(UserFactory(), with_mfa=False))
    response = client.get(reverse("groups:secretariat_dashboard"))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("mfa_activate_totp")


def test_secretariat_creates_a_group_and_bad_dates_are_refused(client):
    staff = make_secretariat(UserFactory())
    coordinator = UserFactory()
    client.force_login(staff)
    data = {
        "name": "Probation and Victims",
        "slug": "victims",
        "kind": "expert_group",
        "summary": "Public summary.",
        "description": "",
        "coordinators": [coordinator.pk],
        "start_date": (timezone.localdate() - timedelta(days=900)).isoformat(),
    }
    response = client.post(reverse("groups:create"), data)
    assert response.status_code == HTTPStatus.OK and "start_date" in response.context["form"].errors
    data["start_date"] = timezone.localdate().isoformat()
    response = client.post(reverse("groups:create"), data)
    assert response.status_code == HTTPStatus.FOUND
    assert coordinator.memberships.get().role == "coordinator"


def test_audit_log_filters_and_exports_csv(client):
    group = make_group(slug="audited")
    make_group(slug="other-one")
    client.force_login(make_secretariat(UserFactory()))
    response = client.get(reverse("groups:audit"), {"group": "audited"})
    assert {row.group.slug for row in response.context["page"]} == {"audited"}
    response = client.get(reverse("groups:audit"), {"group": "audited", "format": "csv"})
    content = b"".join(response.streaming_content).decode()
    assert content.splitlines()[0] == "when,group,actor,action,summary"
    assert "audited,group.created" in content.replace(f"{group.created_by.email},", "")


def _grow_groups():
    staff = make_secretariat(UserFactory())
    for _ in range(3):
        group = make_group(actor=staff)
        add_member(group)
        add_member(group)


def test_group_list_queries_do_not_grow(client):
    _grow_groups()
    assert_queries_do_not_grow(lambda: client.get(reverse("home")), _grow_groups)


def test_secretariat_dashboard_queries_do_not_grow(client):
    client.force_login(make_secretariat(UserFactory()))
    _grow_groups()
    assert_queries_do_not_grow(
        lambda: client.get(reverse("groups:secretariat_dashboard")), _grow_groups
    )


def test_group_page_queries_do_not_grow_with_members(client):
    group = make_group()
    member = add_member(group)
    client.force_login(member)

    def grow():
        for _ in range(5):
            add_member(group)
        add_member(group, role="coordinator")

    for name in ("groups:detail", "groups:members"):
        assert_queries_do_not_grow(
            lambda name=name: client.get(reverse(name, args=[group.slug])), grow
        )


def test_dashboard_lists_my_groups_and_unread_count(client):
    group = make_group(name="Technology")
    member = add_member(group)
    client.force_login(member)
    response = client.get(reverse("dashboard"))
    assert group in response.context["my_groups"]
