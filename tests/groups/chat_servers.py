"""Real processes for the chat tests: uvicorn serving ``portal.asgi``, a private Redis,
and a WebSocket client that talks to them like a browser (session cookie, Origin).

Used by ``test_chat_scaleout.py`` and ``tests/e2e/test_chat.py``. Every process
started here is stopped by its own handle, even when a test fails.
"""

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.db import connection

from groups.consumers import WS_MAX_SIZE

BASE_DIR = Path(settings.BASE_DIR)
START_TIMEOUT = 30
NOISE = {"presence", "pong", "typing", "ack"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_answers(url: str) -> bool:
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def shared_database_url() -> str:
    """DATABASE_URL naming pytest-django's test database, which the servers share with us."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def session_cookie(user) -> str:
    """A real session in the database for ``user``, as a login would create it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


class RedisServer:
    """A Redis of our own on a free port, so that restarting it disturbs nobody else."""

    def __init__(self, tmp_path: Path):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.dir = tmp_path / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not redis_answers(self.url):
            assert self.process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class WebServer:
    """``uvicorn portal.asgi:application`` as in the Procfile (``--ws-max-size`` too),
    on a free port; with ``kind="gunicorn"``, the pages' production server
    (``gunicorn -c portal/gunicorn.conf.py``, WSGI, no WebSockets)."""

    def __init__(self, tmp_path: Path, name: str, env: dict, kind: str = "uvicorn"):
        self.name = name
        self.kind = kind
        self.port = free_port()
        self.log_path = tmp_path / f"{name}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings.base",
            "PORTAL_VAR_DIR": str(tmp_path / "var"),
            "DJANGO_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def command(self) -> list[str]:
        if self.kind == "gunicorn":
            return [
                sys.executable, "-m", "gunicorn", "--config", "portal/gunicorn.conf.py",
                "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
            ]  # fmt: skip
        return [
            sys.executable, "-m", "uvicorn", "portal.asgi:application",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--lifespan", "off", "--ws", "websockets-sansio", "--no-access-log",
            "--ws-max-size", str(WS_MAX_SIZE),
        ]  # fmt: skip

    def start(self) -> "WebServer":
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.command(),
                cwd=BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.process.poll() is None, f"{self.name} exited:\n{self.log()}"
            try:
                with urllib.request.urlopen(f"{self.url}/health/", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, f"{self.name} did not start:\n{self.log()}"
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ChatClient:
    """A chat socket as the browser opens it: session cookie, same-site Origin."""

    def __init__(self, server: WebServer, cookie: str, slug: str):
        self.server, self.cookie, self.slug = server, cookie, slug
        self.ws = None
        self.hello = None

    async def open(self, timeout: float = 15) -> "ChatClient":
        """Connect, retrying while the server (or its Redis) is not ready, like chat.js."""
        from websockets.asyncio.client import connect

        deadline = time.monotonic() + timeout
        while True:
            try:
                self.ws = await connect(
                    self.server.ws_url(f"/ws/groups/{self.slug}/chat/"),
                    additional_headers={
                        "Origin": self.server.url,
                        "Cookie": f"{settings.SESSION_COOKIE_NAME}={self.cookie}",
                    },
                    open_timeout=5,
                )
                self.hello = await self.next("hello")
                return self
            except Exception as exc:  # refused, reset, timed out: try again until the deadline
                if self.ws is not None:
                    await self.ws.close()
                    self.ws = None
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"could not connect: {exc!r}\n{self.server.log()}"
                    ) from exc
                await asyncio.sleep(0.2)

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def next(self, kind: str, timeout: float = 10, skip=()) -> dict:
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if frame["type"] == kind:
                return frame
            assert frame["type"] in NOISE | set(skip), f"expected {kind}, got {frame}"

    async def resume(self, after: int, since: str | None = None) -> list[dict]:
        """Everything after message ``after`` (one or more batches), until ``resumed``."""
        await self.send({"type": "resume", "after": after, "since": since})
        messages = []
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if frame["type"] == "messages":
                messages += frame["messages"]
            elif frame["type"] == "message":  # live while catching up
                messages.append(frame["message"])
            elif frame["type"] == "resumed":
                return messages
            else:
                assert frame["type"] in NOISE, frame

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None
