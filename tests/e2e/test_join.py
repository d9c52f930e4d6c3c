"""Joining a group: an expert finds it on the home page, asks with a motivation, a
coordinator approves in another browser, and the expert then opens the group."""

import re

import pytest
from playwright.sync_api import expect

from groups.models import Membership
from tests.factories import UserFactory
from tests.groups.factories import coordinator_of, make_group

from .conftest import TIMEOUT_MS, shot
from .test_documents import sign_in_as

pytestmark = pytest.mark.e2e

MOTIVATION = "I run the electronic monitoring unit of our probation service."


def test_an_expert_asks_to_join_the_coordinator_approves_and_the_expert_sees_the_group(
    page, browser, live_server
):
    group = make_group(
        name="Electronic Monitoring",
        slug="electronic-monitoring",
        summary="Plans the monitoring conferences and shares practice between them.",
        description="Working notes for members only.",
    )
    coordinator = coordinator_of(group)
    expert = UserFactory(full_name="Erik Expert")

    # The expert finds the group on the home page: the card leads to its public page.
    sign_in_as(page, live_server, expert)
    page.goto("/")
    current = page.get_by_role("region", name="Current groups and networks")
    current.get_by_role("link", name="Electronic Monitoring").click()
    expect(page).to_have_url(re.compile(r"/g/electronic-monitoring/about/$"))
    expect(page.get_by_role("heading", name="Electronic Monitoring")).to_be_visible()
    expect(page.get_by_text("Working notes for members only.")).to_have_count(0)

    page.get_by_label("Why do you want to join?").fill(MOTIVATION)
    page.get_by_role("button", name="Send my request").click()
    expect(page).to_have_url(re.compile(r"/g/electronic-monitoring/about/$"))
    expect(page.get_by_text("Your request has been sent to the coordinators.")).to_be_visible()
    expect(
        page.get_by_text("Your request to join is waiting for the coordinators.")
    ).to_be_visible()
    shot(page, "join-requested")
    assert Membership.objects.get(user=expert, group=group).state == "requested"

    # The coordinator, in another browser, approves on the members page.
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        coordinator_page = context.new_page()
        sign_in_as(coordinator_page, live_server, coordinator)
        coordinator_page.goto("/g/electronic-monitoring/members/")
        requests = coordinator_page.get_by_role("region", name="Requests to join")
        expect(requests.get_by_text(MOTIVATION)).to_be_visible()
        requests.get_by_role("button", name="Approve Erik Expert").click()
        expect(coordinator_page.get_by_text("Erik Expert is now a member.")).to_be_visible()
        expect(coordinator_page.get_by_role("region", name="Requests to join")).to_have_count(0)
        members = coordinator_page.get_by_role("region", name="2 members")
        expect(members.get_by_role("cell", name="Erik Expert")).to_be_visible()
        shot(coordinator_page, "join-approved")
    finally:
        context.close()

    # The expert now reaches the private page, from the home page too.
    page.goto("/")
    page.get_by_role("region", name="Current groups and networks").get_by_role(
        "link", name="Electronic Monitoring"
    ).click()
    expect(page).to_have_url(re.compile(r"/g/electronic-monitoring/$"))
    expect(page.get_by_role("navigation", name="Group sections")).to_be_visible()
    expect(page.get_by_text("Working notes for members only.")).to_be_visible()
    expect(page.get_by_role("button", name="Leave the group")).to_be_visible()
    shot(page, "join-member")
    assert page.console_errors == []
