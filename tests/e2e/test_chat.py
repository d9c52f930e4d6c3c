"""Two members chat live in two browsers, through a restart of the web server.

pytest-django's live server speaks WSGI only, so this test starts the portal as
it runs in production: ``uvicorn portal.asgi:application`` in its own process,
on the pytest PostgreSQL test database (skipped on SQLite, whose in-memory test
database another process cannot see). The server is stopped and started again
mid-test: both pages show "Reconnecting…", and the message written meanwhile
appears once they are back.
"""

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection, connections
from playwright.sync_api import expect

from groups import chat
from groups.models import ChatMessage
from portal.models import Notification
from tests.conftest import need_service
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.chat_servers import WebServer, session_cookie, shared_database_url
from tests.groups.factories import add_member, make_group

from .conftest import TIMEOUT_MS, shot

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def web(django_db_setup, tmp_path_factory):
    """One uvicorn process for the module; each test still gets a clean database."""
    need_service(
        connection.vendor == "postgresql",
        "needs PostgreSQL: set DATABASE_URL=postgres://… (the web process cannot see "
        "SQLite's in-memory test database)",
    )
    tmp_path = tmp_path_factory.mktemp("chat-web")
    env = {"DATABASE_URL": shared_database_url(), "PORTAL_VAR_DIR": str(tmp_path / "var")}
    server = WebServer(tmp_path, "web", env)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=settings.BASE_DIR,
        env=server.env,
        check=True,
    )
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def in_thread(fn, **kwargs):
    """Call ``fn`` outside Playwright's event loop, so that it may broadcast after commit."""

    def call():
        try:
            return fn(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def open_room(browser, web, user, errors: list):
    context = browser.new_context(base_url=web.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie(user), "url": web.url}]
    )
    page = context.new_page()

    def record(message) -> None:
        # The browser asks for /favicon.ico on its own; the portal has none (yet).
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", record)
    response = page.goto("/g/live-chat/chat/")
    assert response.ok
    return page


def test_two_members_chat_live_and_nothing_is_lost_while_reconnecting(
    browser, web, transactional_db
):
    group = make_group(slug="live-chat", name="Live Chat Group")
    ana = add_member(group, UserFactory(full_name="Ana Lima", timezone="Europe/Lisbon"))
    ben = add_member(group, UserFactory(full_name="Ben Okafor", timezone="Europe/Helsinki"))
    first = in_thread(
        chat.chat_message_post, actor=ben, group=group, body="Written before anyone came"
    )
    sent_at = datetime(2026, 1, 15, 12, 34, tzinfo=UTC)  # 12:34 in Lisbon, 14:34 in Helsinki
    ChatMessage.objects.filter(pk=first.pk).update(created_at=sent_at)
    errors: list[str] = []
    ana_page = open_room(browser, web, ana, errors)
    ben_page = open_room(browser, web, ben, errors)

    for page, user in ((ana_page, ana), (ben_page, ben)):
        expect(page.get_by_role("status")).to_have_text("Live")
        expect(page.locator("#chat-online")).to_contain_text("Ana Lima")
        expect(page.locator("#chat-online")).to_contain_text("Ben Okafor")
        expect(page.locator(".chat-msg")).to_have_count(1)
        # The time is shown in the viewer's own zone, not the server's or the browser's
        # (12:34 in Lisbon, 14:34 in Helsinki; 24- or 12-hour as the language has it).
        local = sent_at.astimezone(ZoneInfo(user.timezone))
        clock = rf"^({local:%H:%M}|{local:%I:%M}\s*{local:%p})$"
        expect(page.locator(".chat-msg time")).to_have_text(re.compile(clock))

    # Enter sends; the other page shows it at once, with a safe, clickable link.
    ana_page.get_by_label("Your message").fill("Hello Ben, the report: https://example.org/report.")
    ana_page.get_by_label("Your message").press("Enter")
    message = ben_page.locator(".chat-msg", has_text="Hello Ben")
    expect(message).to_be_visible()
    link = message.get_by_role("link", name="https://example.org/report")
    expect(link).to_have_attribute("href", "https://example.org/report")
    expect(link).to_have_attribute("rel", re.compile("noopener"))
    expect(message.locator(".chat-author")).to_have_text("Ana Lima")

    # Ben is typing: Ana sees it. Shift+Enter makes a new line; HTML stays text.
    box = ben_page.get_by_label("Your message")
    box.click()
    box.type("<b>not bold</b>")
    expect(ana_page.locator("#chat-typing")).to_have_text("Ben Okafor is typing…")
    box.press("Shift+Enter")
    box.type("second line")
    box.press("Enter")
    reply = ana_page.locator(".chat-msg", has_text="second line")
    expect(reply.locator(".chat-body")).to_have_text("<b>not bold</b>\nsecond line")
    expect(reply.locator("b")).to_have_count(0)

    # Ben writes again at once: the two read as one block (no second author line).
    box.type("and a third line")
    box.press("Enter")
    follow_up = ana_page.locator(".chat-msg", has_text="and a third line")
    expect(follow_up).to_have_class(re.compile(r"\bis-continued\b"))
    expect(reply).not_to_have_class(re.compile(r"\bis-continued\b"))
    expect(ana_page.locator(".chat-msg.is-continued")).to_have_count(1)

    # Ana edits her message; Ben sees the edit, marked as such.
    ana_page.locator(".chat-msg", has_text="Hello Ben").get_by_role("button", name="Edit").click()
    editor = ana_page.get_by_label("Edit your message")
    editor.fill("Hello Ben, the final report: https://example.org/report.")
    editor.press("Enter")
    edited = ben_page.locator(".chat-msg", has_text="final report")
    expect(edited.locator(".chat-edited")).to_have_text("(edited)")
    shot(ana_page, "chat-live")

    # The web server goes away: both pages say so, and keep what they had.
    web.stop()
    for page in (ana_page, ben_page):
        expect(page.get_by_role("status")).to_have_text("Reconnecting…")
    shot(ben_page, "chat-reconnecting")
    # A message stored while they were disconnected (say, through another web process)…
    in_thread(chat.chat_message_post, actor=ben, group=group, body="Sent while you were away")
    web.start()
    web.wait_ready()
    # …is there when they are back, without reloading the page.
    for page in (ana_page, ben_page):
        expect(page.get_by_role("status")).to_have_text("Live", timeout=30_000)
        expect(page.locator(".chat-msg", has_text="Sent while you were away")).to_have_count(1)

    ana_page.get_by_label("Your message").fill("Welcome back")
    ana_page.get_by_role("button", name="Send").click()
    expect(ben_page.locator(".chat-msg", has_text="Welcome back")).to_be_visible()
    expect(ben_page.locator(".chat-msg")).to_have_count(6)

    # Only the connection errors of the outage may show in the console (no CSP violations):
    # the sockets' attempts, and the access check over HTTP that the page makes after
    # its third failed attempt (chat.js checkAccess) if the server is still starting.
    outage = ("WebSocket connection", "net::ERR_CONNECTION_REFUSED")
    unexpected = [e for e in errors if not any(mark in e for mark in outage)]
    assert unexpected == [], unexpected


def test_replies_mentions_deletions_and_earlier_pages(browser, web, transactional_db):
    group = make_group(slug="live-chat", name="Live Chat Group")
    ana = add_member(group, UserFactory(full_name="Ana Lima"))
    ben = add_member(group, UserFactory(full_name="Ben Okafor"))
    ChatMessage.objects.bulk_create(
        ChatMessage(group=group, seq=n, author=ben, body=f"Old message {n}") for n in range(1, 61)
    )
    handbook = upload_document(group, ben, title="Draft handbook")
    errors: list[str] = []
    ana_page = open_room(browser, web, ana, errors)
    expect(ana_page.get_by_role("status")).to_have_text("Live")
    expect(ana_page.locator(".chat-msg")).to_have_count(50)

    # History loads in pages when scrolling up (a button does the same from the keyboard).
    expect(ana_page.get_by_role("button", name="Load earlier messages")).to_be_attached()
    ana_page.locator("#chat-log").evaluate("log => { log.scrollTop = 0; }")
    expect(ana_page.locator(".chat-msg")).to_have_count(60)
    expect(ana_page.locator("#chat-earlier")).to_have_text("This is the beginning of the chat.")
    expect(ana_page.locator(".chat-msg").first).to_contain_text("Old message 1")

    # A message links a group document, chosen in the composer.
    ana_page.get_by_label("Link a document").select_option(label="Draft handbook")
    ana_page.get_by_label("Your message").fill("Who can review the draft?")
    ana_page.get_by_label("Your message").press("Enter")
    sent = ana_page.locator(".chat-msg:not(.is-pending)", has_text="Who can review")
    expect(sent.get_by_role("link", name="Draft handbook")).to_have_attribute(
        "href", f"/g/live-chat/documents/{handbook.pk}/"
    )
    expect(ana_page.get_by_label("Link a document")).to_have_value("")

    ben_page = open_room(browser, web, ben, errors)
    question = ben_page.locator(".chat-msg", has_text="Who can review")
    expect(question.get_by_role("link", name="Draft handbook")).to_be_visible()
    question.get_by_role("button", name="Reply").click()
    expect(ben_page.locator("#chat-reply")).to_contain_text("Replying to Ana Lima")
    box = ben_page.get_by_label("Your message")
    box.type("@An")
    suggestion = ben_page.get_by_role("option", name="Ana Lima")
    expect(suggestion).to_be_visible()
    box.press("Enter")
    expect(box).to_have_value("@Ana Lima ")
    box.type("I can.")
    box.press("Enter")

    answer = ana_page.locator(".chat-msg", has_text="I can.")
    expect(answer.locator(".chat-quote")).to_contain_text("In reply to Ana Lima")
    expect(answer.locator(".chat-quote")).to_contain_text("Who can review the draft?")
    expect(answer.locator(".mention")).to_have_text("@Ana Lima")
    expect(answer).to_have_class(re.compile("mentions-me"))
    note = Notification.objects.get(user=ana, category="chat")
    assert "Ben Okafor" in note.title

    # Ben deletes his answer; Ana sees it go.
    ben_page.once("dialog", lambda dialog: dialog.accept())
    ben_page.locator(".chat-msg", has_text="I can.").get_by_role("button", name="Delete").click()
    expect(ana_page.locator(".chat-msg.is-deleted")).to_have_text(
        re.compile("This message was deleted.")
    )
    expect(ana_page.locator(".chat-msg", has_text="I can.")).to_have_count(0)
    assert errors == [], errors
