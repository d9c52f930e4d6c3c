"""A new expert signs up, verifies the e-mail address, signs out and signs in again."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from playwright.sync_api import expect

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

from .conftest import link_in_last_mail, shot

pytestmark = pytest.mark.e2e

EMAIL = "nina.new@example.org"
NEW_PASSWORD = "a-Long-and-unusual-passphrase-42"


def test_new_expert_signs_up_verifies_and_signs_in_again(page):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Expert groups and networks")
    page.get_by_role("banner").get_by_role("link", name="Sign up").click()

    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    page.get_by_label("Email", exact=True).fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Password (again)").fill(NEW_PASSWORD)
    page.get_by_label("Full name").fill("Nina New")
    page.get_by_label("Organisation").fill("Probation Service of Somewhere")
    page.get_by_label("Country").select_option(label="Portugal")
    page.get_by_label("Time zone").select_option("Europe/Lisbon")
    page.get_by_label("Preferred language").select_option(label="English")
    page.get_by_label("Short bio").fill("I work on electronic monitoring.")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile("verify your e-?mail address", re.IGNORECASE)
    )
    user = User.objects.get(email=EMAIL)
    assert (user.full_name, user.organisation, user.country, user.timezone, user.bio) == (
        "Nina New",
        "Probation Service of Somewhere",
        "PT",
        "Europe/Lisbon",
        "I work on electronic monitoring.",
    )
    shot(page, "verification-sent")
    assert not EmailAddress.objects.get(email=EMAIL).verified
    assert [message.to for message in mail.outbox] == [[EMAIL]]

    page.goto(link_in_last_mail(r"/accounts/confirm-email/\S+/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile("confirm (your )?e-?mail address", re.IGNORECASE)
    )
    shot(page, "email-confirm")
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Nina")
    shot(page, "dashboard-after-confirmation")
    assert EmailAddress.objects.get(email=EMAIL).verified

    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("banner").get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))

    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Nina")
    assert page.console_errors == []


def test_wrong_password_shows_an_error_on_the_login_page(page):
    UserFactory(email="known@example.org")
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("known@example.org")
    page.get_by_label("Password").fill(PASSWORD + "-wrong")
    page.get_by_role("main").get_by_role("button", name="Sign in").click()

    error = page.get_by_role("alert")
    expect(error).to_contain_text(
        re.compile("e-?mail address and/or password you specified are not correct")
    )
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))
    expect(page.get_by_label("Email")).to_have_value("known@example.org")
    shot(page, "login-error")
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))


def test_signup_with_errors_shows_them_at_the_fields(page):
    UserFactory(email="taken@example.org")
    page.goto("/accounts/signup/")
    page.get_by_label("Email", exact=True).fill("taken@example.org")
    page.get_by_label("Password", exact=True).fill("password")
    page.get_by_label("Password (again)").fill("password")
    page.get_by_role("button", name="Sign up").click()

    password = page.get_by_label("Password", exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(re.compile("too common"))
    expect(page.get_by_label("Full name")).to_have_attribute("aria-invalid", "true")
    shot(page, "signup-errors")
    assert not User.objects.filter(full_name="").exists()
