"""Joining a group, the whole way: a newcomer signs up, verifies the e-mail address,
completes the profile, finds a group on the home page and asks to join with a
motivation; a coordinator approves in another browser; the expert then opens the group."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from playwright.sync_api import expect

from accounts.models import User
from groups.models import Membership
from tests.factories import ExpertiseAreaFactory
from tests.groups.factories import coordinator_of, make_group

from .conftest import confirm_email, other_browser, shot, sign_up
from .test_documents import sign_in_as

pytestmark = pytest.mark.e2e

EMAIL = "nina.new@example.org"
NEW_PASSWORD = "a-Long-and-unusual-passphrase-42"
MOTIVATION = "I run the electronic monitoring unit of our probation service."


def test_a_new_expert_signs_up_completes_the_profile_asks_to_join_and_is_approved(
    page, browser, live_server
):
    group = make_group(
        name="Electronic Monitoring",
        slug="electronic-monitoring",
        summary="Plans the monitoring conferences and shares practice between them.",
        description="Working notes for members only.",
    )
    coordinator = coordinator_of(group)
    ExpertiseAreaFactory(name="Electronic monitoring", slug="electronic-monitoring")
    ExpertiseAreaFactory(name="Juvenile justice", slug="juvenile-justice")

    # Signing up asks for the basic profile along with the address and password.
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Expert groups and networks")
    page.get_by_role("banner").get_by_role("link", name="Sign up").click()
    sign_up(
        page,
        email=EMAIL,
        password=NEW_PASSWORD,
        full_name="Nina New",
        organisation="Probation Service of Somewhere",
        country="Portugal",
        timezone="Europe/Lisbon",
        language="English",
        bio="I work on electronic monitoring.",
    )
    shot(page, "verification-sent")
    user = User.objects.get(email=EMAIL)
    assert (user.full_name, user.organisation, user.country, user.timezone, user.bio) == (
        "Nina New",
        "Probation Service of Somewhere",
        "PT",
        "Europe/Lisbon",
        "I work on electronic monitoring.",
    )
    assert not EmailAddress.objects.get(email=EMAIL).verified
    assert [message.to for message in mail.outbox] == [[EMAIL]]

    # The link in the e-mail verifies the address and signs the expert in.
    confirm_email(page)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Nina")
    shot(page, "dashboard-after-confirmation")
    assert EmailAddress.objects.get(email=EMAIL).verified

    # The dashboard leads to the rest of the profile; what signup asked for is already there.
    page.get_by_role("region", name="Your profile").get_by_role(
        "link", name="Edit your profile"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit your profile")
    expect(page.get_by_label("Full name")).to_have_value("Nina New")
    page.get_by_label("Jurisdiction").fill("Azores")
    page.get_by_label("Languages spoken").select_option(["pt", "en"])
    page.get_by_role("group", name="Areas of expertise").get_by_label(
        "Electronic monitoring"
    ).check()
    page.get_by_role("button", name="Save profile").click()

    expect(page.get_by_text("Your profile has been saved.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text("Nina New")
    expect(page.get_by_text("Azores")).to_be_visible()
    expect(page.get_by_text("Electronic monitoring", exact=True)).to_be_visible()
    shot(page, "profile-completed")
    user.refresh_from_db()
    assert (user.jurisdiction, sorted(user.languages)) == ("Azores", ["en", "pt"])
    assert [area.slug for area in user.expertise.all()] == ["electronic-monitoring"]

    # The expert finds the group on the home page: the card leads to its public page.
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
    assert Membership.objects.get(user=user, group=group).state == "requested"

    # The coordinator, in another browser, sees the completed profile and approves.
    with other_browser(browser, live_server) as coordinator_page:
        sign_in_as(coordinator_page, live_server, coordinator)
        coordinator_page.goto("/g/electronic-monitoring/members/")
        requests = coordinator_page.get_by_role("region", name="Requests to join")
        expect(requests.get_by_text(MOTIVATION)).to_be_visible()
        expect(requests.get_by_text("Probation Service of Somewhere · Portugal")).to_be_visible()
        requests.get_by_role("button", name="Approve Nina New").click()
        expect(coordinator_page.get_by_text("Nina New is now a member.")).to_be_visible()
        expect(coordinator_page.get_by_role("region", name="Requests to join")).to_have_count(0)
        members = coordinator_page.get_by_role("region", name="2 members")
        expect(members.get_by_role("cell", name="Nina New", exact=True)).to_be_visible()
        shot(coordinator_page, "join-approved")
        assert coordinator_page.console_errors == []

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
    assert Membership.objects.get(user=user, group=group).state == "active"
    assert page.console_errors == []
