"""Huge frames are refused by the server before they are buffered whole.

The consumer refuses frames over ``MAX_FRAME_BYTES`` with an error frame, but a
WebSocket server reads a whole message before the consumer sees it: uvicorn's
default would buffer up to 16 MiB per frame. The Procfile (and the test servers
of ``chat_servers.py``) run uvicorn with ``--ws-max-size WS_MAX_SIZE``, a little
above the consumer's limit, so a multi-megabyte frame closes that one socket
(1009, "message too big") and every other socket stays up.

The server test runs a real uvicorn process on the pytest PostgreSQL database
(skipped on SQLite, whose in-memory test database another process cannot see).
"""

import asyncio
import json
import re
import shlex

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from groups.consumers import MAX_FRAME_BYTES, WS_MAX_SIZE
from tests.conftest import need_service
from tests.factories import UserFactory
from tests.groups.chat_servers import (
    BASE_DIR,
    ChatClient,
    WebServer,
    session_cookie,
    shared_database_url,
)
from tests.groups.factories import add_member, make_group


def test_the_procfile_limits_websocket_frames_a_little_above_the_consumers_limit():
    web = next(
        line for line in (BASE_DIR / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    args = shlex.split(web.removeprefix("web:"))
    assert "--ws-max-size" in args, web
    assert int(args[args.index("--ws-max-size") + 1]) == WS_MAX_SIZE
    # room for the largest frame the consumer answers, far below uvicorn's 16 MiB
    assert MAX_FRAME_BYTES < WS_MAX_SIZE <= 4 * MAX_FRAME_BYTES


@pytest.fixture
def server(transactional_db, tmp_path):
    need_service(
        connection.vendor == "postgresql",
        "needs PostgreSQL: set DATABASE_URL=postgres://… (the server process cannot see "
        "SQLite's in-memory test database)",
    )
    # The embedded channel layer: one process is all this test needs.
    web = WebServer(tmp_path, "web", {"DATABASE_URL": shared_database_url(), "REDIS_URL": ""})
    web.start()
    try:
        web.wait_ready()
        yield web
    finally:
        web.stop()


@pytest.mark.services
def test_a_multi_megabyte_frame_closes_that_socket_and_the_others_stay_up(server):
    group = make_group(slug="frames")
    ana = add_member(group, UserFactory(full_name="Ana Lima"))
    ben = add_member(group, UserFactory(full_name="Ben Okafor"))
    cookies = {"ana": session_cookie(ana), "ben": session_cookie(ben)}

    async def scenario():
        flooder = await ChatClient(server, cookies["ana"], "frames").open()
        reader = await ChatClient(server, cookies["ben"], "frames").open()
        try:
            # Over the consumer's limit but under the server's: an error frame, still open.
            await flooder.send({"type": "send", "body": "x" * (MAX_FRAME_BYTES + 1000)})
            assert (await flooder.next("error"))["code"] == "too_large"

            # Several megabytes: the server closes this socket without reading it all.
            await flooder.ws.send(json.dumps({"type": "send", "body": "x" * 3_000_000}))
            await asyncio.wait_for(flooder.ws.wait_closed(), 10)
            assert flooder.ws.close_code == 1009

            # Everyone else carries on, and so does the same person on a new socket.
            await reader.send({"type": "send", "body": "still here", "client_id": "b-1"})
            assert (await reader.next("message", skip={"ack"}))["message"]["body"] == "still here"
            again = await ChatClient(server, cookies["ana"], "frames").open()
            await again.send({"type": "send", "body": "back"})
            assert (await reader.next("message"))["message"]["body"] == "back"
            await again.close()
        finally:
            await flooder.close()
            await reader.close()

    async_to_sync(scenario)()
    assert server.process.poll() is None, server.log()
    assert not re.search(r"Traceback", server.log()), server.log()
