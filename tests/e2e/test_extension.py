"""Extension of the mandate: a coordinator asks for it with a justification, the
secretariat (signed in with its authenticator code) approves it, and the coordinator
sees the group extended at once, with term 2 on its page; once term 1 is over the group
runs in its extended term."""

import re
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import translation
from django.utils.formats import date_format
from playwright.sync_api import expect

from groups.models import ExtensionRequest, Mandate
from tests.conftest import TOTP_SECRET, make_secretariat
from tests.factories import PASSWORD, UserFactory
from tests.groups.factories import coordinator_of, make_group

from .conftest import other_browser, shot
from .test_documents import sign_in_as
from .test_mfa import current_code, sign_in

pytestmark = pytest.mark.e2e

JUSTIFICATION = (
    "Our comparative study of restorative practice needs a second round of field visits, "
    "and three new member organisations have joined the work."
)
DECISION = "The second round of visits is worth the two years."


def sign_in_with_authenticator(page, user) -> None:
    """Through the login form and the code step, as staff with two-factor authentication do."""
    sign_in(page, user.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    # Only the current 30-second window's code is accepted: never type one about to expire.
    left = 30 - time.time() % 30
    if left < 3:
        time.sleep(left + 0.1)
    page.get_by_label("Code").fill(current_code(TOTP_SECRET))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def shown(day) -> str:
    with translation.override("en"):
        return date_format(day, "DATE_FORMAT")


def test_a_coordinator_asks_for_the_extension_and_the_secretariat_approves_it(
    page, browser, live_server
):
    staff = make_secretariat(UserFactory(full_name="Sam Secretariat"))
    group = make_group(name="Restorative Justice", slug="restorative-justice", actor=staff)
    coordinator = coordinator_of(group)
    term1 = Mandate.objects.get(group=group, term=1)

    # The coordinator finds the request on the group's page, under the mandate.
    sign_in_as(page, live_server, coordinator)
    page.goto("/g/restorative-justice/")
    expect(page.get_by_text(f"Term 1 until {shown(term1.end_date)}")).to_be_visible()
    mandate = page.get_by_role("region", name="Mandate")
    mandate.get_by_role("link", name="Request the extension").click()

    expect(page).to_have_url(re.compile(r"/g/restorative-justice/extension/$"))
    page.get_by_label("Why should the group continue for two more years?").fill(JUSTIFICATION)
    page.get_by_role("button", name="Send the request").click()

    expect(page).to_have_url(re.compile(r"/g/restorative-justice/$"))
    expect(page.get_by_text("Your request has been sent to the secretariat.")).to_be_visible()
    expect(page.get_by_role("main").get_by_text("Extension requested", exact=True)).to_be_visible()
    expect(mandate.get_by_text("Waiting for the secretariat")).to_be_visible()
    expect(mandate.get_by_role("link", name="Request the extension")).to_have_count(0)
    shot(page, "extension-requested")

    # The secretariat, signed in with its second factor, decides from its dashboard.
    with other_browser(browser, live_server) as staff_page:
        sign_in_with_authenticator(staff_page, staff)
        staff_page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Secretariat"
        ).click()
        expect(staff_page).to_have_url(re.compile(r"/secretariat/$"))
        requests = staff_page.get_by_role("region", name="Extension requests")
        request = requests.get_by_role("article").filter(
            has=staff_page.get_by_role("heading", name="Restorative Justice")
        )
        expect(request.get_by_text(JUSTIFICATION)).to_be_visible()
        request.get_by_role("group", name="Decision").get_by_label("Approve the extension").check()
        request.get_by_label("Reason").fill(DECISION)
        request.get_by_role("button", name="Record the decision").click()

        expect(staff_page.get_by_text("The decision has been recorded.")).to_be_visible()
        expect(requests.get_by_text("No request is waiting.")).to_be_visible()
        shot(staff_page, "extension-decided")
        assert staff_page.console_errors == []

    extension = ExtensionRequest.objects.get(group=group)
    assert (extension.state, extension.decided_by, extension.decision_reason) == (
        "approved",
        staff,
        DECISION,
    )
    term2 = Mandate.objects.get(group=group, term=2)
    assert term2.start_date == term1.end_date

    # The coordinator is told, and the group is extended from the approval on: its
    # header shows the end of term 2 and its page term 2 after term 1.
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name=re.compile("^Notifications")
    ).click()
    page.get_by_role("link", name="The mandate of Restorative Justice is extended").click()
    expect(page).to_have_url(re.compile(r"/g/restorative-justice/$"))
    expect(page.get_by_role("main").get_by_text("Extended", exact=True)).to_be_visible()
    expect(
        page.get_by_text(
            f"Term 1 until {shown(term1.end_date)}, extended until {shown(term2.end_date)}"
        )
    ).to_be_visible()
    mandate = page.get_by_role("region", name="Mandate")
    expect(
        mandate.get_by_role(
            "row", name=f"2 {shown(term2.start_date)} {shown(term2.end_date)}", exact=True
        )
    ).to_be_visible()
    expect(mandate.get_by_text("Approved")).to_be_visible()
    expect(mandate.get_by_text(DECISION)).to_be_visible()
    expect(mandate.get_by_role("link", name="Request the extension")).to_have_count(0)
    shot(page, "extension-approved")

    # When term 1 is over, the group works in its extended term: still extended.
    with time_machine.travel(term2.start_date + timedelta(days=1), tick=True):
        sign_in_as(page, live_server, coordinator)  # the session from two years ago has expired
        page.goto("/g/restorative-justice/")
        expect(page.get_by_role("main").get_by_text("Extended", exact=True)).to_be_visible()
        expect(page.get_by_text(f"Term 2 until {shown(term2.end_date)}")).to_be_visible()
        shot(page, "extension-term-2")
    assert page.console_errors == []
