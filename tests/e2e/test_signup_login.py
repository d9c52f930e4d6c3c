"""Signing in and out, and the errors of the login and signup forms.

A newcomer's signup and e-mail verification are the start of the joining journey in
test_join.py."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.factories import PASSWORD, UserFactory

from .conftest import shot

pytestmark = pytest.mark.e2e

EMAIL = "nina.new@example.org"


def test_an_expert_signs_out_and_signs_in_again_where_they_were_going(page):
    # Signing up and verifying the address are the first steps of test_join.py's journey.
    UserFactory(email=EMAIL, full_name="Nina New")
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome, Nina")

    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("banner").get_by_role("link", name="Sign in")).to_be_visible()
    page.goto("/dashboard/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/dashboard/$"))

    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
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
