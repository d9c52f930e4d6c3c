"""Documents under ASGI, the way uvicorn runs the portal: raw scopes, receive and send.

- ``RequestBodyLimit`` answers 413 before Django spools an oversized body to disk.
- A connection cut half-way through an upload leaves no row, no file, no temp file.
- A ZIP download streams: the first bytes leave before the last file is opened.
"""

import asyncio
import io
import os
import tempfile
import zipfile
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core import signals
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import close_old_connections
from django.test import AsyncRequestFactory
from django.test.client import BOUNDARY, encode_multipart
from django.urls import reverse

from documents import responses, views
from documents.limits import RequestBodyLimit
from documents.models import Document, Version
from tests.documents import samples
from tests.documents.factories import upload_document

pytestmark = pytest.mark.django_db

CSRF = "a" * 32  # a CSRF secret, sent as cookie and as form field
MiB = 1024 * 1024


def http_scope(method="GET", path="/", *, headers=(), query=b"", cookies=None) -> dict:
    headers = [(b"host", b"localhost"), *headers]
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def body_messages(body: bytes, chunk: int = 64 * 1024, *, complete: bool = True) -> list[dict]:
    parts = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [{"type": "http.request", "body": p, "more_body": True} for p in parts]
    if complete:
        messages[-1]["more_body"] = False
    return messages


class Conversation:
    """What a server does: hands out the request messages, collects what the app sends."""

    def __init__(self, messages, *, on_receive=None, on_send=None):
        self.inbox = list(messages)
        self.received = 0
        self.sent: list[dict] = []
        self.on_receive = on_receive
        self.on_send = on_send

    async def receive(self):
        if not self.inbox:
            await asyncio.Future()  # nothing more: wait until cancelled, as a server does
        if self.on_receive is not None:
            await asyncio.to_thread(self.on_receive, self.inbox[0])
        self.received += 1
        return self.inbox.pop(0)

    async def send(self, message):
        if self.on_send is not None:
            self.on_send(message)
        self.sent.append(message)

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return starts[0]["status"] if starts else None

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


@contextmanager
def keep_test_connection():
    """As Django's test client does: a request must not close the test's DB connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def run(app, scope, conversation: Conversation) -> Conversation:
    with keep_test_connection():
        async_to_sync(app)(scope, conversation.receive, conversation.send)
    return conversation


class EchoApp:
    """An inner app that reads the whole body and sends it back."""

    def __init__(self):
        self.calls = 0
        self.disconnected = False

    async def __call__(self, scope, receive, send):
        self.calls += 1
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


# --- The request size guard ---------------------------------------------


def test_a_declared_oversized_body_gets_413_and_never_reaches_the_app(settings):
    settings.DOCUMENT_MAX_BYTES = 5 * MiB
    inner = EchoApp()
    guard = RequestBodyLimit(inner, max_bytes=1000)
    talk = Conversation(body_messages(b"x" * 1001))
    scope = http_scope("POST", headers=[(b"content-length", b"1001")])
    run(guard, scope, talk)
    assert talk.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert inner.calls == 0
    assert talk.received == 0  # not one byte of the body was read
    start = talk.sent[0]
    assert (b"content-type", b"text/plain; charset=utf-8") in start["headers"]
    assert "Each file may be at most 5.0\xa0MB" in talk.body.decode()


def test_a_chunked_body_is_counted_and_cut_off_with_413(settings):
    inner = EchoApp()
    guard = RequestBodyLimit(inner, max_bytes=1000)
    talk = Conversation(body_messages(b"x" * 5000, chunk=300))  # no Content-Length
    headers = [(b"accept-language", b"de-DE,de;q=0.9"), (b"cookie", b"django_language=fr")]
    run(guard, http_scope("POST", headers=headers), talk)
    assert talk.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert inner.disconnected  # the app was told the client went away: it stores nothing
    assert talk.received == 4  # 1200 bytes read, the rest never
    assert [m["type"] for m in talk.sent] == ["http.response.start", "http.response.body"]


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_within_the_limit_passes_untouched(declared):
    inner = EchoApp()
    guard = RequestBodyLimit(inner, max_bytes=1000)
    headers = [(b"content-length", b"1000")] if declared else []
    talk = run(
        guard,
        http_scope("POST", headers=headers),
        Conversation(body_messages(b"y" * 1000, chunk=250)),
    )
    assert talk.status == HTTPStatus.OK
    assert talk.body == b"y" * 1000
    assert inner.calls == 1


def test_an_invalid_content_length_is_a_bad_request():
    inner = EchoApp()
    guard = RequestBodyLimit(inner, max_bytes=1000)
    talk = run(
        guard, http_scope("POST", headers=[(b"content-length", b"12, 9999")]), Conversation([])
    )
    assert talk.status == HTTPStatus.BAD_REQUEST
    assert inner.calls == 0


def test_the_bad_request_answer_speaks_the_visitors_language():
    guard = RequestBodyLimit(EchoApp(), max_bytes=1000)
    headers = [(b"content-length", b"ten"), (b"accept-language", b"fr-FR,fr;q=0.9")]
    talk = run(guard, http_scope("POST", headers=headers), Conversation([]))
    assert talk.status == HTTPStatus.BAD_REQUEST
    assert talk.body.decode() == "Requête incorrecte\u00a0: Content-Length invalide."


def test_websockets_pass_through_untouched():
    seen = []

    async def inner(scope, receive, send):
        seen.append((scope, receive, send))

    guard = RequestBodyLimit(inner, max_bytes=0)
    scope = {"type": "websocket", "path": "/ws/", "headers": [(b"content-length", b"99")]}

    async def receive():
        return {"type": "websocket.connect"}

    async def send(message):
        pass

    async_to_sync(guard)(scope, receive, send)
    assert seen == [(scope, receive, send)]


def test_the_limit_follows_the_setting(settings):
    settings.REQUEST_MAX_BYTES = 10
    guard = RequestBodyLimit(EchoApp())
    talk = run(guard, http_scope("POST"), Conversation(body_messages(b"z" * 11)))
    assert talk.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def test_the_default_limit_is_one_file_plus_a_margin():
    assert django_settings.DOCUMENT_MAX_BYTES + MiB == django_settings.REQUEST_MAX_BYTES


def test_the_portal_application_refuses_an_anonymous_endless_upload(settings):
    from portal.asgi import application

    settings.REQUEST_MAX_BYTES = 2 * MiB
    huge = str(100 * 1024 * MiB).encode()
    talk = run(
        application,
        http_scope("POST", "/accounts/login/", headers=[(b"content-length", huge)]),
        Conversation(body_messages(b"x" * MiB)),
    )
    assert talk.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert talk.received == 0


# --- Uploads through the whole ASGI stack --------------------------------


def open_temp_files() -> set[str]:
    """Files this process holds open in the temp directories (spooled bodies, uploads)."""
    roots = (tempfile.gettempdir(), django_settings.FILE_UPLOAD_TEMP_DIR)
    found = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(roots):
            found.add(f"{fd.name} -> {target}")
    return found


def upload_files_left(settings) -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    stored = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    temps = list(Path(settings.FILE_UPLOAD_TEMP_DIR).glob("*.upload*"))
    return stored + temps


@pytest.fixture
def session(client, world):
    client.force_login(world["member"])
    return {
        django_settings.SESSION_COOKIE_NAME: client.cookies[
            django_settings.SESSION_COOKIE_NAME
        ].value,
        django_settings.CSRF_COOKIE_NAME: CSRF,
    }


def upload_body() -> bytes:
    content = samples.TEXT * (3 * MiB // len(samples.TEXT) + 1)  # past FILE_UPLOAD_MAX_MEMORY_SIZE
    assert len(content) > django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    return encode_multipart(
        BOUNDARY,
        {
            "csrfmiddlewaretoken": CSRF,
            "files": SimpleUploadedFile("big.txt", content, content_type="text/plain"),
            "sensitivity": "normal",
            "purpose": "general",
        },
    )


def upload_scope(body: bytes, session) -> dict:
    return http_scope(
        "POST",
        reverse("documents:upload", kwargs={"slug": "target"}),
        headers=[
            (b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode()),
            (b"content-length", str(len(body)).encode()),
            (b"accept", b"application/json"),
        ],
        cookies=session,
    )


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc to see open files")
def test_a_connection_cut_half_way_leaves_no_row_no_file_and_no_temp_file(session, settings):
    from portal.asgi import application

    body = upload_body()
    before = open_temp_files()
    messages = body_messages(body, complete=False)
    messages = messages[: len(messages) * 3 // 4]  # three quarters arrive, then the line drops
    messages.append({"type": "http.disconnect"})
    while_spooling: list[set[str]] = []

    def look(message):
        if message["type"] == "http.disconnect":
            while_spooling.append(open_temp_files() - before)

    talk = run(application, upload_scope(body, session), Conversation(messages, on_receive=look))
    # The body had gone to a temporary file on disk (so the clean-up below proves something).
    assert while_spooling and while_spooling[0]
    assert talk.status is None  # nobody left to answer
    assert not Document.objects.exists() and not Version.objects.exists()
    assert upload_files_left(settings) == []
    assert open_temp_files() - before == set()


def test_the_same_upload_arriving_whole_is_stored(session, settings):
    # The control for the test above: the request is one the portal accepts.
    from portal.asgi import application

    body = upload_body()
    talk = run(application, upload_scope(body, session), Conversation(body_messages(body)))
    assert talk.status == HTTPStatus.CREATED, talk.body
    assert Document.objects.get().title == "big.txt"


# --- ZIP downloads stream -------------------------------------------------


@pytest.fixture
def three_documents(world):
    return [
        upload_document(
            world["group"],
            world["member"],
            name=f"{n}.txt",
            content=samples.TEXT * 200 + n.encode(),
        )
        for n in "abc"
    ]


@pytest.fixture
def opened(monkeypatch):
    """The storage keys ``zip_chunks`` opens, in order."""
    keys: list[str] = []
    real = responses.open_stream

    def recording(key):
        keys.append(key)
        return real(key)

    monkeypatch.setattr(responses, "open_stream", recording)
    return keys


def test_under_asgi_the_zip_is_async_and_starts_before_the_last_file_is_opened(
    world, three_documents, opened
):
    request = AsyncRequestFactory().get(
        reverse("documents:zip", kwargs={"slug": "target"}), {"id": [d.pk for d in three_documents]}
    )
    request.user = world["member2"]
    response = views.download_zip(request, slug="target")
    assert response.status_code == HTTPStatus.OK
    assert response.is_async  # Django would read a sync iterator whole before sending

    async def first_then_rest():
        chunks = aiter(response)
        first = await anext(chunks)
        opened_at_first = len(opened)
        rest = [chunk async for chunk in chunks]
        return first, opened_at_first, rest

    first, opened_at_first, rest = async_to_sync(first_then_rest)()
    response.close()
    assert first
    assert opened_at_first < len(three_documents)
    assert len(opened) == len(three_documents)
    archive = zipfile.ZipFile(io.BytesIO(first + b"".join(rest)))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == ["a.txt", "b.txt", "c.txt"]


def test_the_server_gets_the_first_zip_bytes_before_the_last_file_is_opened(
    session, three_documents, opened
):
    from portal.asgi import application

    opened_when_sent: list[int] = []

    def sent(message):
        if message["type"] == "http.response.body" and message.get("body"):
            opened_when_sent.append(len(opened))

    ids = "&".join(f"id={d.pk}" for d in three_documents).encode()
    talk = run(
        application,
        http_scope(
            "GET", reverse("documents:zip", kwargs={"slug": "target"}), query=ids, cookies=session
        ),
        Conversation(body_messages(b""), on_send=sent),
    )
    assert talk.status == HTTPStatus.OK
    assert opened_when_sent[0] < len(three_documents)
    assert zipfile.ZipFile(io.BytesIO(talk.body)).testzip() is None
