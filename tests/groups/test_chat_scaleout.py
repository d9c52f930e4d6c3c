"""Chat across real server processes: two uvicorn processes of ``portal.asgi`` on their
own ports, sharing one PostgreSQL test database and one Redis.

- A message sent through one process reaches a socket held by the other, and a
  membership removed by a third process (this one) closes the socket at once.
- In the production split (docs/deployment.md), a message posted through the
  pages' gunicorn reaches a socket on uvicorn, and gunicorn refuses WebSockets.
- Redis is restarted under the running servers: messages stored while it was
  down are delivered when the client reconnects with the last number it saw,
  and the room is live again afterwards.

The Redis is a private ``redis-server`` on a free port, so that stopping it
disturbs nobody else.
"""

import asyncio
import http.client
import re
import shutil
import urllib.parse

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection

from groups.models import ChatMessage, Membership
from groups.services import membership_remove
from tests.conftest import need_service
from tests.factories import UserFactory
from tests.groups.chat_servers import (
    ChatClient,
    RedisServer,
    WebServer,
    session_cookie,
    shared_database_url,
)
from tests.groups.factories import add_member, coordinator_of, make_group

pytestmark = pytest.mark.services

db = database_sync_to_async


@pytest.fixture
def cluster(transactional_db, tmp_path, settings):
    need_service(
        connection.vendor == "postgresql",
        "needs PostgreSQL: set DATABASE_URL=postgres://… (server processes cannot see "
        "SQLite's in-memory test database)",
    )
    need_service(shutil.which("redis-server") is not None, "needs the redis-server binary")
    redis = RedisServer(tmp_path)
    redis.start()
    # This process (the test) publishes membership changes on the same layer as the servers.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis.url], "prefix": "portal"},
        }
    }
    env = {"DATABASE_URL": shared_database_url(), "REDIS_URL": redis.url}
    servers = [WebServer(tmp_path, name, env) for name in ("web-a", "web-b")]
    servers.append(WebServer(tmp_path, "pages", env, kind="gunicorn"))
    try:
        for server in servers:
            server.start()
        for server in servers:
            server.wait_ready()
        yield {"redis": redis, "a": servers[0], "b": servers[1], "pages": servers[2]}
    finally:
        for server in servers:
            server.stop()
        redis.stop()


@pytest.fixture
def room(cluster):
    group = make_group(slug="scale-out")
    ana = add_member(group, UserFactory(full_name="Ana Lima"))
    ben = add_member(group, UserFactory(full_name="Ben Okafor"))
    return {
        "group": group,
        "ana": ana,
        "ben": ben,
        "coordinator": coordinator_of(group),
        "cookies": {"ana": session_cookie(ana), "ben": session_cookie(ben)},
    }


async def body_arrives(client: ChatClient, body: str, timeout: float = 10) -> dict:
    while True:
        message = (await client.next("message", timeout=timeout, skip=("pong", "ack")))["message"]
        if message["body"] == body:
            return message


def test_a_message_sent_through_one_process_reaches_a_socket_on_the_other(cluster, room):
    async def scenario():
        ana = await ChatClient(cluster["a"], room["cookies"]["ana"], "scale-out").open()
        ben = await ChatClient(cluster["b"], room["cookies"]["ben"], "scale-out").open()
        try:
            await ana.send({"type": "send", "body": "Sent through A", "client_id": "a-1"})
            received = await body_arrives(ben, "Sent through A")
            assert received["author"]["name"] == "Ana Lima" and received["seq"] == 1
            await ben.send({"type": "send", "body": "Sent through B", "reply_to": received["id"]})
            reply = await body_arrives(ana, "Sent through B")
            assert reply["reply_to"]["id"] == received["id"]

            # A third process removes Ben: his socket on B closes at once.
            membership = await db(Membership.objects.get)(user=room["ben"], group=room["group"])
            await db(membership_remove)(actor=room["coordinator"], membership=membership)
            closed = await ben.next("closed", skip={"message"})
            assert closed["code"] == 4403
            await asyncio.wait_for(ben.ws.wait_closed(), 5)
            assert ben.ws.close_code == 4403
        finally:
            await ana.close()
            await ben.close()

    async_to_sync(scenario)()
    assert list(ChatMessage.objects.order_by("seq").values_list("body", flat=True)) == [
        "Sent through A",
        "Sent through B",
    ]
    for server in (cluster["a"], cluster["b"]):
        assert server.process.poll() is None, server.log()


def post_form(server: WebServer, cookie: str, path: str, fields: dict) -> int:
    """Post the chat's no-JavaScript form like a browser: read the CSRF token first."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", path.replace("post/", ""), headers={"Cookie": f"sessionid={cookie}"})
    page = conn.getresponse()
    html = page.read().decode()
    assert page.status == 200, html[:500]
    csrf_cookie = re.search(r"csrftoken=([^;]+)", page.getheader("Set-Cookie") or "").group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token})
    conn.request(
        "POST",
        path,
        body=body,
        headers={
            "Cookie": f"sessionid={cookie}; csrftoken={csrf_cookie}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    return response.status


def test_production_split_a_form_post_on_gunicorn_reaches_a_socket_on_uvicorn(cluster, room):
    async def scenario():
        ben = await ChatClient(cluster["b"], room["cookies"]["ben"], "scale-out").open()
        try:
            status = await asyncio.to_thread(
                post_form,
                cluster["pages"],
                room["cookies"]["ana"],
                "/g/scale-out/chat/post/",
                {"body": "Posted through the pages server"},
            )
            assert status == 302
            received = await body_arrives(ben, "Posted through the pages server")
            assert received["author"]["name"] == "Ana Lima"
        finally:
            await ben.close()

    async_to_sync(scenario)()
    # gunicorn speaks no WebSocket: the upgrade gets no 101 and no consumer runs.
    pages = cluster["pages"]
    conn = http.client.HTTPConnection("127.0.0.1", pages.port, timeout=10)
    conn.request(
        "GET",
        "/ws/groups/scale-out/chat/",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version": "13",
            "Origin": pages.url,
            "Cookie": f"sessionid={room['cookies']['ben']}",
        },
    )
    response = conn.getresponse()
    response.read()
    conn.close()
    assert response.status == 404
    assert pages.process.poll() is None, pages.log()


def test_nothing_stored_is_missed_across_a_redis_restart(cluster, room):
    """Redis goes away under two running servers and comes back. With the pub/sub
    layer the sockets stay open; what was stored meanwhile is what a client gets
    when its ping's latest_seq shows it is behind, and the room is live again."""
    post_path = "/g/scale-out/chat/post/"

    async def scenario():
        ana = await ChatClient(cluster["a"], room["cookies"]["ana"], "scale-out").open()
        ben = await ChatClient(cluster["b"], room["cookies"]["ben"], "scale-out").open()
        await ana.send({"type": "send", "body": "before the restart"})
        last_seen = (await body_arrives(ben, "before the restart"))["seq"]

        cluster["redis"].stop()
        # Meanwhile people go on writing (through a socket and the form fallback).
        await ana.send({"type": "send", "body": "sent while Redis was down"})
        while (ack := await ana.next("ack", skip=("message",)))["seq"] < 2:
            pass  # the ack of the message before
        assert ack["seq"] == 2  # stored, although broadcast to nobody
        status = await asyncio.to_thread(
            post_form, cluster["a"], room["cookies"]["ana"], post_path, {"body": "and a form"}
        )
        assert status == 302

        cluster["redis"].start()
        await ben.send({"type": "ping"})
        pong = await ben.next("pong", skip=("message", "typing", "presence"))
        assert pong["latest_seq"] == 3  # ben sees it is behind
        missed = await ben.resume(after=last_seen)
        assert [m["body"] for m in missed] == ["sent while Redis was down", "and a form"]
        assert [m["seq"] for m in missed] == [2, 3]

        # And the room is live across both processes again, once the layers have
        # reconnected (each ping joins the rooms again).
        for attempt in range(20):
            await ana.send({"type": "ping"})
            await ben.send({"type": "ping"})
            await ana.send({"type": "send", "body": f"after the restart {attempt}"})
            try:
                arrived = await body_arrives(ben, f"after the restart {attempt}", timeout=1)
                break
            except TimeoutError:
                continue  # the layer is still reconnecting: this one is stored, not live
        else:
            pytest.fail("the room did not come back after the Redis restart")
        assert arrived["seq"] == 4 + attempt
        await ana.close()
        await ben.close()

    async_to_sync(scenario)()
    assert ChatMessage.objects.filter(body__startswith="after the restart").count() >= 1
    for server in (cluster["a"], cluster["b"]):
        assert server.process.poll() is None, server.log()
