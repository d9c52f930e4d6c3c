"""A pure-ASGI guard that refuses request bodies over ``REQUEST_MAX_BYTES`` with 413.

Django's ``ASGIHandler.read_body`` copies the whole request body into a
temporary file (on disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE``) before any
middleware, view or upload handler runs. ``SizeLimitUploadHandler`` therefore
comes too late to protect the disk: anybody, even without an account, could
POST an endless body. This guard sits in front of Django in ``portal/asgi.py``:

- a declared ``Content-Length`` over the limit is answered 413 at once; the
  body is never read (a client waiting for ``100 Continue`` never sends it)
  and Django is never called;
- a body without ``Content-Length`` (chunked) is counted as it arrives; once
  it passes the limit Django is told the client went away (``http.disconnect``,
  so it closes and deletes its temporary file) and the client gets 413.

Other scopes (WebSocket, lifespan) pass through untouched.
"""

from django.conf import settings
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext as _


def _header(scope, name: bytes) -> list[bytes]:
    return [value for key, value in scope.get("headers", []) if key.lower() == name]


def _declared_length(scope) -> int | None:
    """The Content-Length, None when absent; ValueError when it is not one number."""
    values = {v.strip() for v in _header(scope, b"content-length")}
    if not values:
        return None
    if len(values) > 1 or not all(v.isdigit() for v in values):
        raise ValueError("invalid Content-Length")
    return int(values.pop())


def _language_from(cookie: str, accept: str) -> str:
    """The language the visitor asked for (cookie, then Accept-Language), as Django picks it."""
    request = HttpRequest()
    request.COOKIES = parse_cookie(cookie)
    if accept:
        request.META["HTTP_ACCEPT_LANGUAGE"] = accept
    return translation.get_language_from_request(request)


def _language(scope) -> str:
    return _language_from(
        b"; ".join(_header(scope, b"cookie")).decode("latin-1"),
        b",".join(_header(scope, b"accept-language")).decode("latin-1"),
    )


async def _answer(send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _too_large_text(language: str) -> str:
    with translation.override(language):
        return _(
            "The request is too large. Each file may be at most %(limit)s; "
            "send large files one at a time."
        ) % {"limit": filesizeformat(settings.DOCUMENT_MAX_BYTES)}


def _bad_length_text(language: str) -> str:
    with translation.override(language):
        return _("Bad request: invalid Content-Length.")


class _BodyLimit:
    """Wrap an app; ``max_bytes`` defaults to ``settings.REQUEST_MAX_BYTES``.

    The limit is read for each request, so a changed setting applies at once.
    """

    def __init__(self, app, *, max_bytes: int | None = None):
        self.app = app
        self._max_bytes = max_bytes

    @property
    def max_bytes(self) -> int:
        return self._max_bytes if self._max_bytes is not None else settings.REQUEST_MAX_BYTES


class RequestBodyLimit(_BodyLimit):
    """The guard for an HTTP ASGI app (``portal/asgi.py``, uvicorn)."""

    async def refuse(self, scope, send) -> None:
        await _answer(send, 413, _too_large_text(_language(scope)))

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        try:
            declared = _declared_length(scope)
        except ValueError:
            await _answer(send, 400, _bad_length_text(_language(scope)))
            return
        if declared is not None and declared > limit:
            await self.refuse(scope, send)
            return

        received = 0
        over = False
        started = False

        async def counted_receive():
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal started
            if over and not started:
                return  # the 413 below answers instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if over and not started:
            await self.refuse(scope, send)


class RequestBodyLimitWSGI(_BodyLimit):
    """The same guard for the WSGI entry point (``portal/wsgi.py``, gunicorn).

    Under WSGI, Django reads a body only as far as its ``Content-Length`` and only
    when a view asks for it, and upload handlers see it as it streams, so only
    the declared length needs checking here: over the limit, 413 before Django
    runs; not a number, 400. A body without ``Content-Length`` is never read.
    """

    def __call__(self, environ, start_response):
        declared = (environ.get("CONTENT_LENGTH") or "").strip()
        if not declared:
            return self.app(environ, start_response)
        if not declared.isdigit():
            text = _bad_length_text(self._language(environ))
            return self._answer(start_response, "400 Bad Request", text)
        if int(declared) > self.max_bytes:
            text = _too_large_text(self._language(environ))
            return self._answer(start_response, "413 Content Too Large", text)
        return self.app(environ, start_response)

    @staticmethod
    def _language(environ) -> str:
        return _language_from(
            environ.get("HTTP_COOKIE", ""), environ.get("HTTP_ACCEPT_LANGUAGE", "")
        )

    @staticmethod
    def _answer(start_response, status: str, text: str):
        body = text.encode()
        start_response(
            status,
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
                ("Connection", "close"),
            ],
        )
        return [body]
