"""Invitation of a newcomer: a coordinator invites an address that has no account from the
members page; the invitee follows the link in the e-mail, signs up, verifies the address,
comes back to the invitation, accepts it and is in the group."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from groups.models import Invitation, Membership
from tests.groups.factories import coordinator_of, make_group

from .conftest import confirm_email, link_in_last_mail, other_browser, shot, sign_up
from .test_documents import sign_in_as

pytestmark = pytest.mark.e2e

INVITEE = "ines.invited@example.org"
MESSAGE = "We would value your experience with youth diversion schemes."


def test_a_coordinator_invites_a_newcomer_who_signs_up_and_lands_in_the_group(
    page, browser, live_server
):
    group = make_group(
        name="Juvenile Justice",
        slug="juvenile-justice",
        summary="Compares how probation services work with young offenders.",
        description="Working notes for members only.",
    )
    coordinator = coordinator_of(group)

    with other_browser(browser, live_server) as coordinator_page:
        # The coordinator invites the address from the group's members page.
        sign_in_as(coordinator_page, live_server, coordinator)
        coordinator_page.goto("/g/juvenile-justice/")
        coordinator_page.get_by_role("navigation", name="Group sections").get_by_role(
            "link", name="Members"
        ).click()
        expect(coordinator_page).to_have_url(re.compile(r"/g/juvenile-justice/members/$"))
        invite = coordinator_page.get_by_role("region", name="Invite someone")
        invite.get_by_label("E-mail address").fill(INVITEE)
        invite.get_by_label("Personal message (optional)").fill(MESSAGE)
        invite.get_by_role("button", name="Send the invitation").click()

        expect(coordinator_page.get_by_text(f"Invitation sent to {INVITEE}.")).to_be_visible()
        waiting = coordinator_page.get_by_role("region", name="Invite someone")
        expect(waiting.get_by_role("listitem").filter(has_text=INVITEE)).to_be_visible()
        shot(coordinator_page, "invitation-sent")

        # The e-mail goes to the address, with the coordinator's message and the link.
        assert [message.to for message in mail.outbox] == [[INVITEE]]
        invitation_mail = mail.outbox[0]
        assert invitation_mail.subject.endswith(
            f"{coordinator.full_name} invites you to join Juvenile Justice"
        )
        assert MESSAGE in invitation_mail.body
        invitation_path = link_in_last_mail(r"/invitation/[^/\s]+/")

        # The invitee, in their own browser and without an account, follows the link.
        page.goto(invitation_path)
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "You are invited to Juvenile Justice"
        )
        shot(page, "invitation-anonymous")
        page.get_by_role("main").get_by_role("link", name="Create an account").click()
        # The form already holds the invited address.
        expect(page.get_by_label("Email", exact=True)).to_have_value(INVITEE)
        sign_up(
            page,
            email=INVITEE,
            password="a-Long-and-unusual-passphrase-42",
            full_name="Ines Invited",
        )
        assert [message.to for message in mail.outbox] == [[INVITEE], [INVITEE]]

        # Verifying the address signs the invitee in and brings them back to the invitation.
        confirm_email(page)
        expect(page).to_have_url(re.compile(rf"{re.escape(invitation_path)}$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Invitation to Juvenile Justice")
        expect(page.get_by_text(MESSAGE)).to_be_visible()
        shot(page, "invitation-signed-in")
        page.get_by_role("button", name="Accept and join").click()

        expect(page).to_have_url(re.compile(r"/g/juvenile-justice/$"))
        expect(page.get_by_text("Welcome to Juvenile Justice.")).to_be_visible()
        expect(page.get_by_role("navigation", name="Group sections")).to_be_visible()
        expect(page.get_by_text("Working notes for members only.")).to_be_visible()
        expect(page.get_by_role("button", name="Leave the group")).to_be_visible()
        shot(page, "invitation-member")

        # The group is among the new member's groups on the dashboard.
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Dashboard").click()
        expect(
            page.get_by_role("region", name="Your groups").get_by_role(
                "link", name="Juvenile Justice"
            )
        ).to_be_visible()

        # The coordinator sees the new member, and nobody left waiting for an answer.
        coordinator_page.reload()
        members = coordinator_page.get_by_role("region", name="2 members")
        expect(members.get_by_role("cell", name="Ines Invited", exact=True)).to_be_visible()
        expect(coordinator_page.get_by_role("heading", name="Waiting for an answer")).to_have_count(
            0
        )
        assert coordinator_page.console_errors == []

    membership = Membership.objects.get(group=group, user__email=INVITEE)
    assert (membership.state, membership.role) == ("active", "member")
    assert Invitation.objects.get(group=group, email=INVITEE).membership == membership
    assert page.console_errors == []
