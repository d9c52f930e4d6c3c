"""Every main page passes axe-core with no serious or critical violation, in a real browser.

axe-core comes from the ``axe-playwright-python`` package (its bundled
``axe.min.js``), injected through Playwright, which the page's CSP does not
block. Each page is checked as the persona who normally sees it.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.test import Client

from tests.pages import main_pages, main_pages_world

from .conftest import shot

pytestmark = pytest.mark.e2e

BLOCKING = {"serious", "critical"}


def sign_in_as(page, live_server, user) -> None:
    page.context.clear_cookies()
    if user is None:
        return
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


def a11y_world() -> dict:
    """Built in a thread of its own: Playwright's event loop runs in this one, and posting
    to the chat broadcasts through async_to_sync."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(main_pages_world).result()


def violations(page) -> list[dict]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [v for v in results.response["violations"] if v["impact"] in BLOCKING]


def describe(found: list[dict]) -> str:
    return "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in found
    )


def test_main_pages_have_no_serious_accessibility_violations(page, live_server):
    world = a11y_world()
    failures = []
    persona = object()
    for name, who, path in main_pages(world):
        if who != persona:
            sign_in_as(page, live_server, world.get(who))
            persona = who
        response = page.goto(path)
        assert response.ok, f"{name}: {path} answered {response.status}"
        shot(page, f"a11y-{name}")
        found = violations(page)
        if found:
            failures.append(f"{name} ({path}):\n{describe(found)}")
    assert not failures, "\n".join(failures)


def test_the_portal_works_with_the_keyboard_alone(page, live_server):
    """From the home page to a group document, with Tab and Enter only."""
    world = a11y_world()
    sign_in_as(page, live_server, world["member"])
    page.goto("/dashboard/")

    def tab_to(name: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            focused = page.evaluate("() => document.activeElement.textContent.trim()")
            if focused == name:
                return
        raise AssertionError(f"{name!r} cannot be reached with the Tab key")

    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == (
        "Skip to main content"
    )
    page.keyboard.press("Enter")
    tab_to("Electronic monitoring")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{world['group'].get_absolute_url()}")
    tab_to("Documents")
    page.keyboard.press("Enter")
    page.wait_for_url("**/documents/")
    tab_to("guidelines.pdf")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**{world['document'].get_absolute_url()}")
