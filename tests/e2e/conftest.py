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
from pathlib import Path

import pytest
from django.core import mail

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


@pytest.fixture
def page(browser, live_server, transactional_db, viewport) -> Iterator:
    """A fresh browser context (no cookies, no storage) per test, at live_server's URL."""
    context = browser.new_context(base_url=live_server.url, viewport=viewport, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.console_errors = []

    def record(message) -> None:
        # The browser asks for /favicon.ico on its own; the portal has none (yet).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            page.console_errors.append(message.text)

    page.on("console", record)
    mail.outbox = []
    yield page
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
