"""An expert turns on two-factor authentication, then needs a code to sign in."""

import re
import time

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from playwright.sync_api import expect

from tests.factories import PASSWORD, UserFactory

from .conftest import shot

pytestmark = pytest.mark.e2e


def current_code(secret: str) -> str:
    """The code of the current 30-second step, taken early enough in the step that
    the server checks it in the same one (near the end, wait for the next)."""
    left = 30 - time.time() % 30
    if left < 5:
        time.sleep(left + 0.1)
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def wrong_code(secret: str) -> str:
    return f"{(int(current_code(secret)) + 1) % 1_000_000:06d}"


def sign_in(page, email: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()


def test_expert_activates_an_authenticator_app_and_signs_in_with_a_code(page):
    user = UserFactory(email="careful@example.org", full_name="Carla Careful")
    sign_in(page, user.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/dashboard/$"))

    page.goto("/accounts/2fa/")
    expect(page.get_by_text("An authenticator app is not active.")).to_be_visible()
    page.get_by_role("link", name="Activate").click()

    # Changing the account's security asks for the password again first.
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm Access")
    shot(page, "reauthenticate")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()

    expect(page.get_by_role("img", name=re.compile(r"^[A-Z2-7]{16,}$"))).to_be_visible()
    secret = page.get_by_label("Authenticator secret").input_value()
    code_field = page.get_by_label("Authenticator code")
    code_field.fill(wrong_code(secret))
    page.get_by_role("button", name="Activate").click()

    expect(page.get_by_role("alert")).to_contain_text("Incorrect code")
    expect(code_field).to_have_attribute("aria-invalid", "true")
    expect(code_field).to_have_accessible_description(re.compile("Incorrect code"))
    shot(page, "mfa-activate-error")
    assert not user.authenticator_set.exists()

    code_field.fill(current_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_label("Unused codes")).to_be_visible()
    shot(page, "mfa-recovery-codes")
    assert user.authenticator_set.filter(type="totp").exists()

    page.goto("/accounts/2fa/")
    expect(page.get_by_text("Authentication using an authenticator app is active.")).to_be_visible()
    shot(page, "mfa-active")

    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    sign_in(page, user.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/$"))
    shot(page, "mfa-authenticate")
    page.get_by_label("Code").fill(current_code(secret))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Carla")
    assert page.console_errors == []
