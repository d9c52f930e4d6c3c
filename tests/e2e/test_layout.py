"""The main pages render cleanly on a desktop and on a phone.

Each page must load without console errors (a Content-Security-Policy violation
shows up as one), have exactly one level-one heading, and fit the screen without
horizontal scrolling. With PORTAL_SCREENSHOT_DIR set, every page is saved as a
screenshot for a human to look at.
"""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.factories import ExpertiseAreaFactory, UserFactory

from .conftest import DESKTOP, MOBILE, shot

pytestmark = pytest.mark.e2e

PUBLIC_PAGES = {
    "home": "/",
    "login": "/accounts/login/",
    "signup": "/accounts/signup/",
    "password-reset": "/accounts/password/reset/",
}
MEMBER_PAGES = {
    "dashboard": "/dashboard/",
    "profile": "/people/profile/",
    "profile-edit": "/people/profile/edit/",
    "directory": "/people/directory/",
    "emails": "/accounts/email/",
    "password-change": "/accounts/password/change/",
    "mfa": "/accounts/2fa/",
}


@pytest.fixture(params=[DESKTOP, MOBILE], ids=["desktop", "mobile"])
def viewport(request):
    return request.param


def sign_in_as(page, live_server, user) -> None:
    """Give the browser a session of `user` without going through the login form."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def assert_renders_cleanly(page, path: str | None, name: str) -> None:
    """Check the page at `path`, or the page already open when `path` is None."""
    if path is not None:
        response = page.goto(path)
        assert response.ok, f"{path}: HTTP {response.status}"
    path = path or page.url
    width = page.viewport_size["width"]
    shot(page, f"{name}-{'mobile' if width < 600 else 'desktop'}")
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
    assert page.console_errors == [], f"{path}: {page.console_errors}"


@pytest.mark.parametrize(("name", "path"), PUBLIC_PAGES.items(), ids=PUBLIC_PAGES.keys())
def test_public_pages_render_cleanly(page, name, path):
    assert_renders_cleanly(page, path, name)


def test_member_pages_render_cleanly(page, live_server):
    areas = [ExpertiseAreaFactory(name=name) for name in ("Electronic monitoring", "Victims")]
    for number in range(5):
        UserFactory(full_name=f"Colleague {number}").expertise.set(areas[: number % 3])
    user = UserFactory(full_name="Maria Member", organisation="Probation Service of Portugal")
    user.expertise.set(areas)
    sign_in_as(page, live_server, user)
    for name, path in MEMBER_PAGES.items():
        assert_renders_cleanly(page, path, name)


def test_signup_errors_render_cleanly(page):
    page.goto("/accounts/signup/")
    page.get_by_label("Email", exact=True).fill("not-an-email")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password (again)").fill("different")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator("[aria-invalid=true]").first).to_be_visible()
    assert_renders_cleanly(page, None, "signup-errors")


def outline_width(locator) -> float:
    return locator.evaluate(
        "el => getComputedStyle(el).outlineStyle === 'none'"
        " ? 0 : parseFloat(getComputedStyle(el).outlineWidth)"
    )


def test_keyboard_focus_is_visible(page):
    page.goto("/accounts/login/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    assert outline_width(skip) >= 2

    email = page.get_by_label("Email")
    email.focus()
    assert outline_width(email) >= 2
    page.keyboard.press("Shift+Tab")
    assert outline_width(page.locator(":focus")) >= 2
