"""What the rest of the portal tells open chat sockets, through the channel layer.

Every chat socket of a group joins two channel-layer groups: the room
(``group-chat.<group id>``), which receives messages, edits, presence and
typing, and its member's own (``group-chat.<group id>.user.<user id>``), through
which one person's sockets can be closed. Services call these functions from
``transaction.on_commit``; a channel layer that is down is logged, never raised:
the data is stored and clients catch up when they reconnect.
"""

import asyncio
import json
import logging
import os
import weakref

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# WebSocket close codes the client understands (4000–4999 are for applications).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403  # not (or no longer) a member
CLOSE_ARCHIVED = 4410
CLOSE_FLOODING = 4429


def room_name(group_id: int) -> str:
    return f"group-chat.{group_id}"


def member_room_name(group_id: int, user_id: int) -> str:
    return f"group-chat.{group_id}.user.{user_id}"


def _server_loop():
    """The event loop of the ASGI server when we run in one of its worker threads
    (a consumer's database call, a view), else None (Celery, WSGI, a shell)."""
    if getattr(SyncToAsync.threadlocal, "main_event_loop_pid", None) != os.getpid():
        return None
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    return loop if loop is not None and loop.is_running() else None


# One queue and one sending task per event loop: the thread that committed does not
# wait for Redis, and events leave in the order they were committed.
_outboxes: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Queue]" = (
    weakref.WeakKeyDictionary()
)


async def _group_send(name: str, event: dict) -> bool:
    try:
        layer = get_channel_layer()
        if layer is None:
            return False
        # The room travels with the event: each process's hub fans it out locally.
        await layer.group_send(name, {**event, "room": name})
    except Exception:  # a Redis blip must not undo what was committed
        logger.exception("chat: could not send %s to %s", event.get("type"), name)
        return False
    return True


async def _drain(outbox: asyncio.Queue) -> None:
    while True:
        name, event = await outbox.get()
        await _group_send(name, event)


def _enqueue(loop, name: str, event: dict) -> None:
    outbox = _outboxes.get(loop)
    if outbox is None:
        outbox = _outboxes[loop] = asyncio.Queue()
        loop.create_task(_drain(outbox))
    outbox.put_nowait((name, event))


def _send(name: str, event: dict) -> bool:
    loop = _server_loop()
    if loop is not None:
        loop.call_soon_threadsafe(_enqueue, loop, name, event)
        return True
    try:
        return async_to_sync(_group_send)(name, event)
    except RuntimeError:  # called from a thread that runs an event loop itself
        logger.exception("chat: could not send %s to %s", event.get("type"), name)
        return False


def room_broadcast(
    *, group_id: int, frame: dict, author_id: int | None = None, client_id: str = ""
) -> bool:
    """Send one frame to every socket of the room; serialised once for all of them.

    ``client_id`` (with the ``author_id`` it belongs to) travels beside the text: the
    author's sockets put it in the message they relay, nobody else ever sees it.
    """
    event = {"type": "chat.frame", "text": json.dumps(frame)}
    if client_id and author_id is not None:
        event.update(author_id=author_id, client_id=client_id)
    return _send(room_name(group_id), event)


def group_close_sockets(*, group_id: int) -> bool:
    """Close every chat socket of the group at once (the group was archived)."""
    return _send(
        room_name(group_id),
        {"type": "chat.close", "code": CLOSE_ARCHIVED, "reason": "archived"},
    )


def member_close_sockets(*, group_id: int, user_id: int) -> bool:
    """Close one person's chat sockets of the group at once (they left or were removed)."""
    return _send(
        member_room_name(group_id, user_id),
        {"type": "chat.close", "code": CLOSE_FORBIDDEN, "reason": "membership"},
    )


# --- The process's hub ------------------------------------------------------
# A room's event crosses the channel layer once per process, not once per socket:
# the process joins each room with one channel of its own (the hub's), and hands
# every event to the sockets of that room it holds. Each socket has an outbox that
# its own writer task empties, so a slow client holds up nobody but itself.


class RoomHub:
    """The rooms of one event loop (one ASGI process) and the sockets in each."""

    def __init__(self, layer):
        self.layer = layer
        self.channel: str | None = None
        self.rooms: dict[str, set] = {}
        self._reader: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def join(self, room: str, socket) -> None:
        """Put ``socket`` in ``room``; (re)subscribes the hub, which is idempotent."""
        async with self._lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel("hub.")
                self._reader = asyncio.get_running_loop().create_task(self._read())
        self.rooms.setdefault(room, set()).add(socket)
        await self.layer.group_add(room, self.channel)

    async def leave(self, room: str, socket) -> None:
        members = self.rooms.get(room)
        if members is None:
            return
        members.discard(socket)
        if not members:
            del self.rooms[room]
            if self.channel is not None:
                await self.layer.group_discard(room, self.channel)

    async def forget(self, room: str) -> None:
        """Unsubscribe the hub from a room while keeping its sockets (tests: a Redis flush)."""
        if self.channel is not None:
            await self.layer.group_discard(room, self.channel)

    async def _read(self) -> None:
        while True:
            try:
                event = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the layer is down: wait, the sockets keep their pings
                logger.warning("chat: the hub could not read from the channel layer")
                await asyncio.sleep(1)
                continue
            self._deliver(event)

    def _deliver(self, event: dict) -> None:
        # A function of its own: a loop variable in ``_read`` would keep the last
        # socket served (and so a closed consumer) alive until the next event.
        for socket in list(self.rooms.get(event.get("room", ""), ())):
            socket.deliver(event)


_hubs: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RoomHub]" = weakref.WeakKeyDictionary()


def hub_for(layer) -> RoomHub:
    """The hub of the running event loop (one per process, one per test's loop)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = RoomHub(layer)
    return hub
