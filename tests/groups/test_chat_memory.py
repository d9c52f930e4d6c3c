"""A closed chat socket is freed by reference counting, not by the garbage collector.

The web processes run the cyclic collector rarely (``portal/asgi.py``: its passes
pause every socket of the process), so whatever a closed socket leaves in a
reference cycle stays in memory until a full collection: under connect/disconnect
churn that is megabytes per thousand sockets (docs/benchmarks.md, Chat fan-out).
These tests open and close sockets with the collector switched off and check that
the consumer, its outbox and its writer task are gone as soon as they are closed.
"""

import asyncio
import gc
import weakref

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings

from groups import realtime
from tests.factories import UserFactory
from tests.groups.factories import add_member, make_group

# The layer (in-memory and Redis) and the closing of the chat's database threads.
from tests.groups.test_chat_consumer import (  # noqa: F401
    TIMEOUT,
    _chat_threads_closed,
    layer,
    next_frame,
    session_of,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def _open(application, cookie: str) -> WebsocketCommunicator:
    headers = [
        (b"origin", b"http://localhost"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    socket = WebsocketCommunicator(application, "/ws/groups/target/chat/", headers)
    connected, code = await socket.connect(timeout=TIMEOUT)
    assert connected, f"refused with {code}"
    await next_frame(socket, "hello", skip={"message"})
    return socket


async def _talk(socket, n: int) -> None:
    """What a client does in a short visit: ping, post, a refused post, typing."""
    await socket.send_json_to({"type": "ping"})
    await next_frame(socket, "pong", skip={"message"})
    await socket.send_json_to({"type": "send", "body": f"hello {n}", "client_id": f"memory-{n}"})
    await next_frame(socket, "ack", skip={"message"})
    await socket.send_json_to({"type": "send", "body": "   "})  # a ChatError
    await next_frame(socket, "error", skip={"message"})
    await socket.send_json_to({"type": "typing"})


def _survivors(refs: list[weakref.ref]) -> list[str]:
    return sorted(type(o).__qualname__ for ref in refs if (o := ref()) is not None)


@pytest.mark.usefixtures("layer")
def test_closed_sockets_leave_no_consumer_outbox_or_writer_behind():
    group = make_group(slug="target")
    cookies = [session_of(add_member(group, UserFactory())) for _n in range(3)]
    from portal.asgi import application

    async def scenario() -> list[weakref.ref]:
        # A first visit loads what every later one shares (the hub, the layer, caches).
        await (await _open(application, cookies[0])).disconnect(timeout=TIMEOUT)
        sockets = [await _open(application, cookie) for cookie in cookies]
        for n, socket in enumerate(sockets):
            await _talk(socket, n)
        hub = realtime.hub_for(get_channel_layer())
        consumers = list(hub.rooms[realtime.room_name(group.pk)])
        assert len(consumers) == len(sockets)
        refs = [weakref.ref(o) for c in consumers for o in (c, c.outbox, c.writer)]
        del consumers
        for socket in sockets:
            await socket.disconnect(timeout=TIMEOUT)
        del sockets, socket
        await asyncio.sleep(0.05)  # the cancelled writer tasks finish
        assert realtime.room_name(group.pk) not in hub.rooms
        return refs

    gc.collect()
    gc.disable()
    try:
        refs = async_to_sync(scenario)()
        survivors = _survivors(refs)
    finally:
        gc.enable()
    assert survivors == [], f"kept alive by reference cycles: {survivors}"
    gc.collect()
    assert _survivors(refs) == []  # what the collector frees was garbage, not a leak


@pytest.mark.usefixtures("layer")
def test_each_closed_socket_counts_towards_the_next_full_collection():
    """``portal.runtime`` collects fully once enough sockets have closed: every socket
    that ends counts, a refused one as well as a member's."""
    from portal import runtime
    from portal.asgi import application

    group = make_group(slug="target")
    cookies = [session_of(add_member(group, UserFactory())) for _n in range(2)]

    async def scenario() -> None:
        sockets = [await _open(application, cookie) for cookie in cookies]
        stranger = WebsocketCommunicator(
            application, "/ws/groups/target/chat/", [(b"origin", b"http://localhost")]
        )
        connected, _code = await stranger.connect(timeout=TIMEOUT)
        assert not connected
        await stranger.disconnect(timeout=TIMEOUT)  # as the server tells it the socket is gone
        assert runtime._closed_sockets.value == before + 1  # the refused one
        for socket in sockets:
            await socket.disconnect(timeout=TIMEOUT)

    before = runtime._closed_sockets.value
    async_to_sync(scenario)()
    assert runtime._closed_sockets.value == before + 3
