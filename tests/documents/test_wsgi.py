"""The pages under WSGI, the way gunicorn serves them in production (docs/deployment.md).

- ``RequestBodyLimitWSGI`` answers a declared oversized body with 413 before
  Django reads a byte of it, in the visitor's language.
- The portal's WSGI application serves pages and streams a ZIP download as
  plain (synchronous) chunks.
"""

import io
import zipfile
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings
from django.core import signals
from django.db import close_old_connections
from django.urls import reverse

from documents.limits import RequestBodyLimitWSGI
from tests.documents import samples
from tests.documents.factories import upload_document

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keep_test_connection():
    """As Django's test client does: a request must not close (or, with the pool,
    give back) the test's database connection, which holds the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


MiB = 1024 * 1024


class Body(io.BytesIO):
    """A request body that counts what was read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.taken = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def environ(method="GET", path="/", *, body=b"", length=None, **headers) -> dict:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "HTTP_HOST": "localhost"}
    env["wsgi.input"] = Body(body)
    if length is not None:
        env["CONTENT_LENGTH"] = length
    env.update(headers)
    setup_testing_defaults(env)
    return env


def call(app, env) -> tuple[str, dict, bytes]:
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    chunks = app(env, start_response)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()
    return seen["status"], seen["headers"], body


class Spy:
    def __init__(self):
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [data]


def test_a_declared_oversized_body_gets_413_unread_and_never_reaches_the_app(settings):
    settings.DOCUMENT_MAX_BYTES = 5 * MiB
    inner = Spy()
    env = environ("POST", body=b"x" * 1001, length="1001")
    status, headers, body = call(RequestBodyLimitWSGI(inner, max_bytes=1000), env)
    assert status.startswith("413")
    assert inner.calls == 0
    assert env["wsgi.input"].taken == 0
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Each file may be at most 5.0\xa0MB" in body.decode()


def test_the_refusal_speaks_the_visitors_language(settings):
    env = environ("POST", length="5000", HTTP_COOKIE="django_language=fr")
    status, _, body = call(RequestBodyLimitWSGI(Spy(), max_bytes=1000), env)
    assert status.startswith("413")
    assert "La requête est trop volumineuse" in body.decode()


@pytest.mark.parametrize("length", ["1000", None, ""])
def test_a_body_within_the_limit_or_undeclared_passes_untouched(length):
    inner = Spy()
    env = environ("POST", body=b"y" * 1000, length=length)
    status, _, body = call(RequestBodyLimitWSGI(inner, max_bytes=1000), env)
    assert status == "200 OK"
    assert inner.calls == 1
    assert body == (b"y" * 1000 if length else b"")


@pytest.mark.parametrize("length", ["12, 9999", "-1", "ten"])
def test_an_invalid_content_length_is_a_bad_request(length):
    inner = Spy()
    status, _, _ = call(RequestBodyLimitWSGI(inner, max_bytes=1000), environ("POST", length=length))
    assert status.startswith("400")
    assert inner.calls == 0


def test_the_bad_request_answer_speaks_the_visitors_language():
    env = environ("POST", length="ten", HTTP_COOKIE="django_language=fr")
    status, headers, body = call(RequestBodyLimitWSGI(Spy(), max_bytes=1000), env)
    assert status.startswith("400")
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body.decode() == "Requête incorrecte\u00a0: Content-Length invalide."


def test_the_limit_follows_the_setting(settings):
    settings.REQUEST_MAX_BYTES = 10
    status, _, _ = call(RequestBodyLimitWSGI(Spy()), environ("POST", body=b"z" * 11, length="11"))
    assert status.startswith("413")


def test_the_portal_application_refuses_an_anonymous_endless_upload(settings):
    from portal.wsgi import application

    settings.REQUEST_MAX_BYTES = 2 * MiB
    env = environ("POST", "/accounts/login/", body=b"x" * MiB, length=str(100 * 1024 * MiB))
    status, _, _ = call(application, env)
    assert status.startswith("413")
    assert env["wsgi.input"].taken == 0


def test_the_portal_application_serves_pages_and_refuses_strangers(client, settings):
    from portal.wsgi import application

    status, _, body = call(application, environ("GET", "/health/"))
    assert status == "200 OK"
    status, headers, _ = call(application, environ("GET", "/dashboard/"))
    assert status.startswith("302")
    assert headers["Location"].startswith("/accounts/login/")


def test_under_wsgi_a_zip_download_streams_plain_chunks(client, world):
    from portal.wsgi import application

    docs = [
        upload_document(
            world["group"], world["member"], name=f"{n.decode()}.txt", content=samples.TEXT + n
        )
        for n in (b"a", b"b")
    ]
    client.force_login(world["member"])
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    path = reverse("documents:zip", args=[world["group"].slug])
    query = "&".join(f"id={d.pk}" for d in docs)
    chunks = []

    def start_response(status, headers, exc_info=None):
        chunks.append(status)

    response = application(
        environ("GET", path, QUERY_STRING=query, HTTP_COOKIE=cookie), start_response
    )
    assert response.is_async is False  # plain chunks: no event loop under WSGI
    body = b"".join(response)
    response.close()
    assert chunks == ["200 OK"]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert sorted(n.rsplit("/", 1)[-1] for n in archive.namelist()) == ["a.txt", "b.txt"]
