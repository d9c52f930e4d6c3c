"""Browser tests: Playwright (sync API) driving Debian's Chromium against live_server.

Playwright never downloads a browser here: it runs the executable named by
PORTAL_CHROMIUM (default /usr/bin/chromium). Without it the tests skip, or fail
when PORTAL_REQUIRE_SERVICES=1.

Set PORTAL_SCREENSHOT_DIR to a directory to keep a screenshot of every page the
layout tests visit.
"""

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.conftest import need_service

# Playwright's sync API runs an event loop in the main thread; Django refuses
# ORM calls from a thread with a running loop unless told this is fine. The
# test code only touches the database between browser steps, never concurrently.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


def pytest_collection_modifyitems(items):
    """Everything under tests/e2e/ is a browser test."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.e2e)


def _chromium_available() -> bool:
    return os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)


@pytest.fixture(scope="session")
def browser() -> Iterator:
    need_service(
        _chromium_available(),
        f"Chromium not found at {CHROMIUM} (install Debian's chromium or set PORTAL_CHROMIUM)",
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def viewport() -> dict:
    """Override (or parametrize) to test another screen size."""
    return DESKTOP


def _new_page(context):
    """A page of ``context`` that keeps the console errors it sees in ``console_errors``."""
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.console_errors = []

    def record(message) -> None:
        # The browser asks for /favicon.ico on its own; the portal has none (yet).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            page.console_errors.append(message.text)

    page.on("console", record)
    return page


@pytest.fixture
def page(browser, live_server, transactional_db, viewport) -> Iterator:
    """A fresh browser context (no cookies, no storage) per test, at live_server's URL."""
    context = browser.new_context(base_url=live_server.url, viewport=viewport, locale="en-GB")
    page = _new_page(context)
    mail.outbox = []
    yield page
    context.close()


@contextmanager
def other_browser(browser, live_server) -> Iterator:
    """A second person's browser beside the test's ``page``: its own cookies and storage."""
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-GB")
    try:
        yield _new_page(context)
    finally:
        context.close()


def shot(page, name: str) -> None:
    """Save a full-page screenshot when PORTAL_SCREENSHOT_DIR is set."""
    directory = os.environ.get("PORTAL_SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def link_in_last_mail(path_pattern: str) -> str:
    """The path of the first link in the last e-mail sent whose path matches."""
    assert mail.outbox, "no e-mail was sent"
    match = re.search(rf"https?://[^/\s]+({path_pattern})", mail.outbox[-1].body)
    assert match, f"no link matching {path_pattern!r} in:\n{mail.outbox[-1].body}"
    return match.group(1)


def sign_up(
    page,
    *,
    email: str,
    password: str,
    full_name: str,
    organisation: str = "",
    country: str = "",
    timezone: str = "",
    language: str = "",
    bio: str = "",
) -> None:
    """Fill in the signup form on the current page and send it; empty fields stay as they are."""
    expect(page).to_have_url(re.compile(r"/accounts/signup/(\?[^#]*)?$"))  # ?email= prefills
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password (again)").fill(password)
    page.get_by_label("Full name").fill(full_name)
    if organisation:
        page.get_by_label("Organisation").fill(organisation)
    if country:
        page.get_by_label("Country").select_option(label=country)
    if timezone:
        page.get_by_label("Time zone").select_option(timezone)
    if language:
        page.get_by_label("Preferred language").select_option(label=language)
    if bio:
        page.get_by_label("Short bio").fill(bio)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile("verify your e-?mail address", re.IGNORECASE)
    )


def confirm_email(page) -> None:
    """Follow the confirmation link of the last e-mail and confirm the address.

    The portal then signs the person in (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION).
    """
    page.goto(link_in_last_mail(r"/accounts/confirm-email/\S+/"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile("confirm (your )?e-?mail address", re.IGNORECASE)
    )
    shot(page, "email-confirm")
    page.get_by_role("button", name="Confirm").click()
