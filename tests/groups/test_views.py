import re
from datetime import timedelta
from html import unescape
from http import HTTPStatus

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

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
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    assert content.splitlines()[0] == "when_utc,group,actor,action,summary,text"
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


# --- The public list: links and pages -----------------------------------------


def archived_group(staff, **kwargs):
    """A group whose term ended 70 days ago, archived through the service."""
    group = make_group(actor=staff, **kwargs)
    today = timezone.localdate()
    Mandate.objects.filter(group=group).update(
        start_date=today - timedelta(days=800), end_date=today - timedelta(days=70)
    )
    from groups import services
    from groups.selectors import group_for_viewer

    services.group_archive(actor=staff, group=group_for_viewer(slug=group.slug))
    return group


def card_links(response) -> dict[str, str]:
    """Group name → the address its card on the home page links to."""
    import re

    body = response.content.decode()
    return {
        name: href for href, name in re.findall(r'<h3><a href="([^"]+)">([^<]+)</a></h3>', body)
    }


@pytest.mark.parametrize(
    ("persona", "private"),
    [("anonymous", False), ("outsider", False), ("member", True), ("secretariat", True)],
)
def test_the_public_list_links_members_to_the_group_and_others_to_its_public_page(
    client, persona, private
):
    staff = make_secretariat(UserFactory())
    group = make_group(name="Mental Health", slug="mental-health", actor=staff)
    past = archived_group(staff, name="Domestic Violence", slug="domestic-violence")
    users = {
        "anonymous": None,
        "outsider": UserFactory(),
        "member": add_member(group),
        "secretariat": staff,
    }
    if persona == "member":
        add_member(past, users["member"])  # a member then, who keeps reading its record
    if users[persona] is not None:
        client.force_login(users[persona])
    links = card_links(client.get(reverse("home")))
    if private:
        assert links["Mental Health"] == group.get_absolute_url()
        assert links["Domestic Violence"] == past.get_absolute_url()
    else:
        assert links["Mental Health"] == group.get_public_url()
        assert links["Domestic Violence"] == past.get_public_url()
    # Whatever the link, it answers: no login wall, no 404.
    for href in links.values():
        assert client.get(href).status_code == HTTPStatus.OK, (persona, href)


def test_a_member_of_one_group_is_sent_to_the_public_page_of_the_others(client):
    mine = make_group(name="Technology")
    other = make_group(name="Research")
    client.force_login(add_member(mine))
    links = card_links(client.get(reverse("home")))
    assert links == {"Technology": mine.get_absolute_url(), "Research": other.get_public_url()}


def test_current_and_past_groups_are_paginated_each_on_its_own(client, settings):
    settings.GROUP_PAGE_SIZE = 2
    staff = make_secretariat(UserFactory())
    for name in ("Alpha", "Bravo", "Charlie"):
        make_group(name=name, actor=staff)
    for name in ("Delta", "Echo", "Foxtrot"):
        archived_group(staff, name=name)
    first = client.get(reverse("home"))
    assert [g.name for g in first.context["current_groups"]] == ["Alpha", "Bravo"]
    assert [g.name for g in first.context["past_groups"]] == ["Delta", "Echo"]
    body = first.content.decode()
    assert 'href="?page=2#current-heading"' in body
    assert 'href="?past_page=2#past-heading"' in body

    response = client.get(reverse("home"), {"page": 2, "past_page": 2})
    assert [g.name for g in response.context["current_groups"]] == ["Charlie"]
    assert [g.name for g in response.context["past_groups"]] == ["Foxtrot"]
    body = response.content.decode()
    # Turning one list's page keeps the other's.
    assert 'href="?page=1&amp;past_page=2#current-heading"' in body
    assert 'href="?page=2&amp;past_page=1#past-heading"' in body
    # A page out of range shows the last one rather than an error.
    response = client.get(reverse("home"), {"page": 99, "past_page": "x"})
    assert [g.name for g in response.context["current_groups"]] == ["Charlie"]
    assert [g.name for g in response.context["past_groups"]] == ["Delta", "Echo"]


def test_expired_groups_stay_listed_as_current_until_archived(client):
    staff = make_secretariat(UserFactory())
    group = make_group(name="Caseload", actor=staff)
    Mandate.objects.filter(group=group).update(
        start_date=timezone.localdate() - timedelta(days=800),
        end_date=timezone.localdate() - timedelta(days=5),
    )
    response = client.get(reverse("home"))
    assert [g.name for g in response.context["current_groups"]] == ["Caseload"]
    assert "Expired" in response.content.decode()


def _grow_memberships_of(user):
    def grow():
        staff = make_secretariat(UserFactory())
        for _ in range(2):
            add_member(make_group(actor=staff), user)
            make_group(actor=staff)
        archived_group(staff)

    return grow


@pytest.mark.parametrize("persona", ["member", "secretariat"])
def test_the_group_list_of_a_signed_in_viewer_takes_as_many_queries_whatever_the_groups(
    client, persona
):
    viewer = UserFactory() if persona == "member" else make_secretariat(UserFactory())
    client.force_login(viewer)
    _grow_memberships_of(viewer)()
    assert_queries_do_not_grow(lambda: client.get(reverse("home")), _grow_memberships_of(viewer))


# --- Joining a group that has not started -----------------------------------------


def test_a_forged_join_of_a_group_that_has_not_started_answers_404_and_changes_nothing(client):
    from portal.models import Activity, Notification

    group = make_group(start=timezone.localdate() + timedelta(days=30))
    outsider = UserFactory()
    client.force_login(outsider)
    assert client.get(group.get_public_url()).status_code == HTTPStatus.NOT_FOUND
    response = client.post(
        reverse("groups:join", args=[group.slug]), {"motivation": "Let me in before it starts."}
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
    response = client.post(reverse("groups:join", args=[group.slug]), {"motivation": "x"})
    assert response.status_code == HTTPStatus.NOT_FOUND  # not a 400 that tells it exists
    assert not Membership.objects.filter(user=outsider).exists()
    assert not Notification.objects.filter(user=coordinator_of(group)).exists()
    assert not Activity.objects.filter(group=group, verb="membership.requested").exists()


def test_once_the_mandate_starts_the_same_request_is_accepted(client):
    import time_machine

    group = make_group(start=timezone.localdate() + timedelta(days=30))
    outsider = UserFactory()
    with time_machine.travel(timezone.now() + timedelta(days=31)):
        client.force_login(outsider)  # a session opened a month ago would have expired
        response = client.post(
            reverse("groups:join", args=[group.slug]), {"motivation": "The group has started."}
        )
    assert response.status_code == HTTPStatus.FOUND
    assert Membership.objects.get(user=outsider, group=group).state == "requested"


def test_the_secretariat_sees_a_group_that_has_not_started_but_cannot_ask_to_join_it(client):
    group = make_group(start=timezone.localdate() + timedelta(days=30))
    staff = make_secretariat(UserFactory())
    client.force_login(staff)
    page = client.get(group.get_public_url())
    assert page.status_code == HTTPStatus.OK and not page.context["can_join"]
    response = client.post(
        reverse("groups:join", args=[group.slug]), {"motivation": "Trying to get in early."}
    )
    assert "has not started yet" in response.content.decode()
    assert not Membership.objects.filter(user=staff).exists()


# --- The extension page of an expired group ----------------------------------------


def test_the_coordinator_of_an_expired_group_is_told_why_there_is_no_extension(client):
    group = make_group()
    Mandate.objects.filter(group=group).update(
        start_date=timezone.localdate() - timedelta(days=800),
        end_date=timezone.localdate() - timedelta(days=5),
    )
    client.force_login(coordinator_of(group))
    url = reverse("groups:extension_request", args=[group.slug])
    response = client.get(url)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == group.get_absolute_url()
    page = client.get(url, follow=True).content.decode()
    assert "The mandate has ended; an extension must be requested before the end of term 1." in (
        page
    )
    forged = client.post(url, {"justification": "We would like two more years to finish."})
    assert forged.status_code == HTTPStatus.FOUND
    assert not ExtensionRequest.objects.filter(group=group).exists()
    assert "Request the extension" not in client.get(group.get_absolute_url()).content.decode()


def test_a_pending_or_approved_extension_sends_the_coordinator_back_with_the_reason(client):
    from groups import services

    group = make_group()
    coordinator = coordinator_of(group)
    client.force_login(coordinator)
    url = reverse("groups:extension_request", args=[group.slug])
    request = services.extension_request(
        actor=coordinator, group=group, justification="We need two more years to finish."
    )
    page = client.get(url, follow=True).content.decode()
    assert "already waiting for a decision" in page
    services.extension_decide(actor=make_secretariat(UserFactory()), request=request, approve=True)
    page = client.get(url, follow=True).content.decode()
    assert "can be extended only once" in page
    assert ExtensionRequest.objects.filter(group=group).count() == 1


def test_the_coordinator_of_an_archived_group_gets_403_on_the_extension_page(client):
    staff = make_secretariat(UserFactory())
    group = archived_group(staff)
    client.force_login(coordinator_of(group))
    response = client.get(reverse("groups:extension_request", args=[group.slug]))
    assert response.status_code == HTTPStatus.FORBIDDEN


# --- The secretariat dashboard: groups by state -----------------------------------


def test_the_dashboard_counts_groups_per_state_and_filters_by_state(client, settings):
    settings.MANDATE_EXPIRING_SOON_DAYS = 45
    staff = make_secretariat(UserFactory())
    today = timezone.localdate()

    def ending_in(days, name):
        group = make_group(actor=staff, name=name)
        Mandate.objects.filter(group=group).update(
            start_date=today - timedelta(days=730 - days), end_date=today + timedelta(days=days)
        )
        return group

    ending_in(40, "Ends in 40")
    ending_in(10, "Ends in 10")
    ending_in(60, "Ends in 60")  # within 90 but not within the configured 45
    make_group(actor=staff, name="Fresh")
    make_group(actor=staff, name="Not yet", start=today + timedelta(days=5))
    archived_group(staff, name="Old")
    client.force_login(staff)

    response = client.get(reverse("groups:secretariat_dashboard"))
    overview = response.context["overview"]
    assert [g.name for g in overview.groups][:2] == ["Ends in 10", "Ends in 40"]
    assert [g.name for g in overview.groups if g.ending_soon] == ["Ends in 10", "Ends in 40"]
    assert {k: n for k, _label, n in overview.counts} == {
        "proposed": 1,
        "active": 2,
        "expiring_soon": 2,
        "extension_requested": 0,
        "extended": 0,
        "expired": 0,
        "archived": 1,
    }
    body = response.content.decode()
    assert "Mandates ending in the next 45 days come first." in body
    assert 'href="?state=expiring_soon#groups-heading"' in body

    response = client.get(reverse("groups:secretariat_dashboard"), {"state": "active"})
    assert [g.name for g in response.context["groups"]] == ["Ends in 60", "Fresh"]
    assert 'href="?state=active#groups-heading" aria-current="page"' in response.content.decode()
    response = client.get(reverse("groups:secretariat_dashboard"), {"state": "extended"})
    assert "No group is in this state." in response.content.decode()
    # An unknown state shows every group.
    response = client.get(reverse("groups:secretariat_dashboard"), {"state": "bogus"})
    assert len(response.context["groups"]) == 6 and response.context["overview"].state == ""


def test_the_dashboard_row_of_an_approved_extension_counts_to_the_end_of_term_2(client):
    from groups import services

    staff = make_secretariat(UserFactory())
    today = timezone.localdate()
    group = make_group(actor=staff, name="Extended early")
    Mandate.objects.filter(group=group).update(
        start_date=today - timedelta(days=700), end_date=today + timedelta(days=30)
    )
    coordinator = coordinator_of(group)
    request = services.extension_request(
        actor=coordinator, group=group, justification="We need two more years to finish."
    )
    services.extension_decide(actor=staff, request=request, approve=True)
    term2 = Mandate.objects.get(group=group, term=2)
    client.force_login(staff)

    response = client.get(reverse("groups:secretariat_dashboard"))
    (row,) = [g for g in response.context["groups"] if g.pk == group.pk]
    assert row.state == "extended"
    assert row.lifecycle.days_left == (term2.end_date - today).days
    assert not row.ending_soon  # term 1 ends in 30 days, but the mandate does not
    assert {k: n for k, _label, n in response.context["overview"].counts}["extended"] == 1
    body = response.content.decode()
    ends = date_format(term2.end_date, "DATE_FORMAT")
    (tr,) = [tr for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S) if "Extended early" in tr]
    cells = [re.sub(r"<[^>]+>", "", td).strip() for td in re.findall(r"<td>(.*?)</td>", tr, re.S)]
    # Group, state, term, ends, days left: the end date and the days left are term 2's.
    assert cells[1:5] == ["Extended", "2", ends, str((term2.end_date - today).days)]
    filtered = client.get(reverse("groups:secretariat_dashboard"), {"state": "extended"})
    assert [g.name for g in filtered.context["groups"]] == ["Extended early"]


def test_the_group_header_shows_the_end_of_term_2_once_the_extension_is_approved(client):
    from groups import services

    staff = make_secretariat(UserFactory())
    group = make_group(actor=staff)
    coordinator = coordinator_of(group)
    term1 = Mandate.objects.get(group=group, term=1)
    client.force_login(coordinator)
    header = f"Term 1 until {date_format(term1.end_date, 'DATE_FORMAT')}"
    assert header in client.get(group.get_absolute_url()).content.decode()
    request = services.extension_request(
        actor=coordinator, group=group, justification="We need two more years to finish."
    )
    services.extension_decide(actor=staff, request=request, approve=True)
    term2 = Mandate.objects.get(group=group, term=2)

    body = client.get(group.get_absolute_url()).content.decode()
    assert f"{header}, extended until {date_format(term2.end_date, 'DATE_FORMAT')}" in body
    assert '<span class="badge ok">Extended</span>' in body
    # The days left on the page are still those of the term in force.
    days = (term1.end_date - timezone.localdate()).days
    assert f"{days} days left in this term." in body


def test_the_filtered_dashboard_queries_do_not_grow(client):
    client.force_login(make_secretariat(UserFactory()))
    _grow_groups()
    assert_queries_do_not_grow(
        lambda: client.get(reverse("groups:secretariat_dashboard"), {"state": "active"}),
        _grow_groups,
    )


def _action_buttons(html: str) -> dict[str, str]:
    """Membership action URL -> its button's accessible name (aria-label, else all its text)."""

    def name(attributes: str, text: str) -> str:
        label = re.search(r'aria-label="([^"]*)"', attributes)
        return " ".join(unescape(label[1] if label else re.sub(r"<[^>]+>", "", text)).split())

    return {
        action: name(attributes, text)
        for action, attributes, text in re.findall(
            r'<form method="post" action="([^"]*/members/\d+/[\w-]+/)"[^>]*>.*?'
            r"<button([^>]*)>(.*?)</button>",
            html,
            re.S,
        )
    }


def test_every_member_action_button_names_the_member_it_applies_to(client):
    group = make_group()
    coordinator = coordinator_of(group)
    nina = add_member(group, UserFactory(full_name="Nina Newcomer"))
    rui = UserFactory(full_name="Rui Requester")
    Membership.objects.create(user=rui, group=group, state="requested", motivation="Let me in.")
    client.force_login(coordinator)
    html = client.get(reverse("groups:members", args=[group.slug])).content.decode()
    buttons = _action_buttons(html)

    def action(user, verb):
        membership = Membership.objects.get(
            user=user, group=group, state__in=["active", "requested"]
        )
        return reverse("groups:membership_action", args=[group.slug, membership.pk, verb])

    assert buttons == {
        action(rui, "approve"): "Approve Rui Requester",
        action(rui, "decline"): "Decline Rui Requester",
        action(nina, "promote"): "Make coordinator: Nina Newcomer",
        action(nina, "remove"): "Remove: Nina Newcomer",
        action(coordinator, "step-down"): f"Make member: {coordinator}",
        action(coordinator, "remove"): f"Remove: {coordinator}",
    }
    # The visible words stay first (the accessible name starts with them), and the
    # confirmation asked before removing says whom.
    assert 'aria-label="Remove: Nina Newcomer">Remove</button>' in html
    assert 'data-confirm="Remove Nina Newcomer from the group?"' in html


def test_member_action_buttons_are_named_in_the_coordinators_language(client):
    group = make_group()
    coordinator = coordinator_of(group)
    coordinator.language = "fr"
    coordinator.save(update_fields=["language"])
    add_member(group, UserFactory(full_name="Nina Newcomer"))
    client.force_login(coordinator)
    html = client.get(reverse("groups:members", args=[group.slug])).content.decode()
    # French sets a non-breaking space before the colon; the visible words come first.
    for label, words in [
        ("Nommer coordinateur\u00a0: Nina Newcomer", "Nommer coordinateur"),
        ("Retirer\u00a0: Nina Newcomer", "Retirer"),
        (f"Rétablir comme membre\u00a0: {coordinator}", "Rétablir comme membre"),
    ]:
        assert f'aria-label="{label}">{words}</button>' in html


def test_approving_ones_own_join_request_on_the_members_page_is_refused(client):
    group = make_group()
    staff = make_secretariat(UserFactory())
    client.force_login(staff)
    client.post(
        reverse("groups:join", args=[group.slug]), {"motivation": "I would like to follow it."}
    )
    mine = Membership.objects.get(user=staff, group=group, state="requested")
    response = client.post(
        reverse("groups:membership_action", args=[group.slug, mine.pk, "approve"]), follow=True
    )
    assert "You cannot approve your own request." in response.content.decode()
    assert Membership.objects.get(pk=mine.pk).state == "requested"


def test_a_coordinator_cannot_approve_their_own_request_to_another_group(client):
    mine, theirs = make_group(), make_group()
    coordinator = coordinator_of(mine)
    client.force_login(coordinator)
    client.post(
        reverse("groups:join", args=[theirs.slug]), {"motivation": "I coordinate a sister group."}
    )
    request = Membership.objects.get(user=coordinator, group=theirs, state="requested")
    for slug in (theirs.slug, mine.slug):  # not theirs to manage; not a request of mine
        url = reverse("groups:membership_action", args=[slug, request.pk, "approve"])
        assert client.post(url).status_code == HTTPStatus.NOT_FOUND
    assert Membership.objects.get(pk=request.pk).state == "requested"


def test_a_coordinator_id_past_64_bits_is_an_invalid_choice(client):
    """Found by tests/hostile: Django's multiple-choice field sent it to an ``IN`` query,
    where SQLite raised OverflowError (a 500)."""
    client.force_login(make_secretariat(UserFactory()))
    data = {
        "name": "Probation and Victims",
        "slug": "victims",
        "kind": "expert_group",
        "summary": "Public summary.",
        "coordinators": [str(2**63)],
        "start_date": timezone.localdate().isoformat(),
    }
    response = client.post(reverse("groups:create"), data)
    assert response.status_code == HTTPStatus.OK
    assert "coordinators" in response.context["form"].errors
    assert not Mandate.objects.exists()


@pytest.mark.parametrize("action", ["decline", "remove"])
def test_a_reason_with_a_nul_character_is_stored_without_it(client, action):
    """Found by tests/hostile: PostgreSQL refuses NUL in text, a forged reason was a 500."""
    group = make_group()
    member = add_member(group)
    if action == "decline":
        row = Membership.objects.create(
            user=UserFactory(), group=group, state="requested", motivation="Let me in please."
        )
    else:
        row = Membership.objects.get(user=member, group=group)
    client.force_login(coordinator_of(group))
    client.post(
        reverse("groups:membership_action", args=[group.slug, row.pk, action]),
        {"reason": "Not\x00 now"},
    )
    row.refresh_from_db()
    assert row.state in ("declined", "removed")
    assert "\x00" not in str(Membership.objects.filter(pk=row.pk).values().get())


def test_the_group_page_lists_its_active_coordinators_only(client):
    from groups.selectors import coordinators_of

    group = make_group(slug="coordinated")
    first = coordinator_of(group)
    second = add_member(
        group, UserFactory(full_name="Zoe Second"), role=Membership.Role.COORDINATOR
    )
    former = add_member(
        group, UserFactory(full_name="Former Lead"), role=Membership.Role.COORDINATOR
    )
    Membership.objects.filter(user=former, group=group).update(state=Membership.State.LEFT)
    member = add_member(group, UserFactory(full_name="Plain Member"))
    elsewhere = make_group(slug="elsewhere")
    add_member(elsewhere, UserFactory(full_name="Other Lead"), role=Membership.Role.COORDINATOR)
    assert {m.user for m in coordinators_of(group)} == {first, second}
    client.force_login(member)
    shown = client.get(reverse("groups:detail", args=[group.slug])).context["coordinators"]
    assert [m.user for m in shown] == [m.user for m in coordinators_of(group)]
