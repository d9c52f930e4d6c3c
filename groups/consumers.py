"""The chat room of a group over WebSocket: a thin adapter around ``groups/chat.py``.

Protocol (JSON text frames). The client sends:

- ``{"type": "resume", "after": n, "since": "<iso time>"}``: everything after
  message number ``n`` (and edits/deletions since ``since``), then ``resumed``;
- ``{"type": "send", "body": "…", "reply_to": id, "document": id, "client_id": "…"}``;
- ``{"type": "edit", "id": id, "body": "…"}``, ``{"type": "delete", "id": id}``;
- ``{"type": "read", "seq": n}``, ``{"type": "typing"}``, ``{"type": "ping"}``.

The server sends ``hello``, ``message``, ``changed``, ``messages`` (a batch),
``resumed``, ``ack`` (with the stored message), ``presence``, ``typing``, ``pong``
(with ``latest_seq``, so that a client notices what it missed), ``error`` (with a
``code`` and a translated ``message``) and ``closed`` just before it closes the
socket with one of the codes in ``groups/realtime.py``.

Anonymous users and people who may not see the group are refused at the
handshake. Every frame re-reads the sender's rights (``chat.chat_access``), so a
removed member or an expired group is noticed at once even if the close event
were lost. Bad frames get an error frame; the socket stays open, except for a
client that floods it, or one whose frame is larger than ``WS_MAX_SIZE``: the
server (uvicorn ``--ws-max-size``, in the Procfile) closes that one with 1009
before buffering it.

Every ping joins the socket's channel-layer groups again (``group_add`` is
idempotent and cheap): after a quick Redis restart that forgot the rooms while
the sockets stayed open, the socket is back in its room within one ping, and
the pong's ``latest_seq`` tells the client what it missed meanwhile.
"""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal import runtime

from . import chat, realtime

# A frame larger than this is refused before it is parsed (a message is at most
# CHAT_MESSAGE_MAX_LENGTH characters; JSON escaping can make it up to 6× longer).
MAX_FRAME_BYTES = 64 * 1024
# The largest WebSocket message the server reads at all (bytes): uvicorn's
# ``--ws-max-size`` in the Procfile and the test servers. Frames between
# MAX_FRAME_BYTES and this get an error frame; larger ones close the socket (1009)
# without being buffered whole (uvicorn's default would be 16 MiB).
WS_MAX_SIZE = 2 * MAX_FRAME_BYTES
# More frames than this within FRAME_WINDOW seconds close the socket (4429).
FRAME_BUDGET = 60
FRAME_WINDOW = 10.0
TYPING_EVERY = 2.0  # seconds between two typing notices from one socket
# Events waiting for a socket that does not read them: beyond this, it is closed.
OUTBOX_LIMIT = 2000

logger = logging.getLogger(__name__)

_pool: ThreadPoolExecutor | None = None


def _parallel() -> bool:
    return connections["default"].vendor != "sqlite"


def in_database(fn):
    """``fn`` made awaitable, to run in a database thread.

    On PostgreSQL a small pool of threads (``CHAT_DB_THREADS``, 8) serves every
    chat socket of the process, so one slow round trip does not hold up the
    messages of everyone else. On SQLite (the embedded default: one process,
    one writer at a time) it is Django's single database thread.
    """
    global _pool
    if not _parallel():
        return database_sync_to_async(fn)
    if _pool is None:
        _pool = ThreadPoolExecutor(
            max_workers=getattr(settings, "CHAT_DB_THREADS", 8), thread_name_prefix="chat-db"
        )
    return database_sync_to_async(fn, thread_sensitive=False, executor=_pool)


def close_database_threads() -> None:
    """Close the database connections held by the chat's threads and stop them (tests)."""
    global _pool
    pool, _pool = _pool, None
    if pool is None:
        return
    workers = pool._max_workers
    barrier = threading.Barrier(workers)

    def close():
        connections.close_all()
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=5)  # one task per thread: each thread closes its own

    for future in [pool.submit(close) for _n in range(workers)]:
        future.result()
    pool.shutdown(wait=True)


def _now_iso() -> str:
    return timezone.now().isoformat()


class ChatConsumer(AsyncWebsocketConsumer):
    group_id: int | None = None
    user_id: int | None = None
    closed = False  # once we close, events still queued for this socket are dropped
    outbox: "asyncio.Queue | None" = None
    writer: "asyncio.Task | None" = None

    async def dispatch(self, message):
        """Channels' dispatch without its hop to the database thread before every event.

        That hop (``aclose_old_connections``) queues each broadcast a socket relays
        behind the process's database work; this consumer reaches the database only
        through ``database_sync_to_async``, which closes stale connections itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- Connection -------------------------------------------------------

    async def connect(self):
        # Events of the rooms joined below wait until the hello has been sent.
        self.turn = asyncio.Lock()
        async with self.turn:
            await self._connect()

    async def _connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=realtime.CLOSE_UNAUTHENTICATED)
            return
        slug = self.scope["url_route"]["kwargs"]["slug"]
        access = await in_database(chat.chat_access)(user_id=user.pk, slug=slug)
        if access is None:
            await self.close(code=realtime.CLOSE_FORBIDDEN)
            return
        if access.is_archived:
            await self.close(code=realtime.CLOSE_ARCHIVED)
            return
        self.access = access
        self.user_id, self.group_id, self.slug = access.user.pk, access.group.pk, access.group.slug
        self.language = access.user.language or settings.LANGUAGE_CODE
        self.rooms = [
            realtime.room_name(self.group_id),
            realtime.member_room_name(self.group_id, self.user_id),
        ]
        self.frames: deque[float] = deque(maxlen=FRAME_BUDGET)
        self.last_typing = 0.0
        await self._join_rooms()
        await self.accept()
        hello = await in_database(self._hello)(access)
        await self.send_json(hello)
        await self._broadcast({"type": "presence", "online": hello["online"]})

    def _hello(self, access) -> dict:
        online = chat.chat_presence_join(
            user=access.user, group=access.group, channel_name=self.channel_name
        )
        return {
            "type": "hello",
            "user": {"id": access.user.pk, "name": access.user.display_name},
            "group": {"id": access.group.pk, "slug": access.group.slug},
            "can_post": access.can_post,
            "can_moderate": access.can_moderate,
            "latest_seq": chat.chat_latest_seq(access.group),
            "max_length": chat.max_length(),
            "online": online,
            "now": _now_iso(),
        }

    async def _join_rooms(self):
        if self.outbox is None:
            self.outbox = asyncio.Queue()
            self.writer = asyncio.get_running_loop().create_task(self._write())
        hub = realtime.hub_for(self.channel_layer)
        for room in self.rooms:
            await hub.join(room, self)

    def deliver(self, event: dict) -> None:
        """Called by the process's hub for each event of this socket's rooms."""
        if self.closed:
            return
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            # A client that reads nothing any more is let go, not buffered for ever;
            # when it comes back it resumes from its last message.
            self.outbox = asyncio.Queue()
            self.outbox.put_nowait({"type": "chat.close", "code": 1013, "reason": "too slow"})
            return
        self.outbox.put_nowait(event)

    def _transport_send(self):
        """The server's own ``send`` under the session middleware's wrapper, which has
        nothing to do for chat frames (the session is never changed here)."""
        send = self.base_send
        while getattr(getattr(send, "__self__", None), "real_send", None) is not None:
            send = send.__self__.real_send
        return send

    async def _write(self):
        relay = self._transport_send()
        while True:
            event = await self.outbox.get()
            try:
                # One thing at a time per socket, as Channels does: an event waits while
                # a frame of this socket is handled, so the ack comes before its echo.
                async with self.turn:
                    if (
                        event["type"] == "chat.frame"
                        and not self.closed
                        and event.get("author_id") != self.user_id
                    ):
                        # The common case, a frame for everyone: straight to the socket.
                        await relay({"type": "websocket.send", "text": event["text"]})
                    else:
                        await self.dispatch(event)
            except Exception:
                logger.exception("chat: could not relay %s", event.get("type"))

    async def disconnect(self, code):
        # What this socket leaves behind is in the collector's oldest generation:
        # the process runs a full collection once enough sockets have closed.
        runtime.socket_closed()
        if self.group_id is None:
            return
        if self.writer is not None:
            # The cancelled task keeps its CancelledError, whose traceback holds the
            # writer's frame and so this consumer: let go of the task, or consumer and
            # task form a cycle that only the garbage collector frees.
            self.writer.cancel()
            self.writer = None
        try:
            hub = realtime.hub_for(self.channel_layer)
            for room in self.rooms:
                await hub.leave(room, self)
        except Exception:  # the layer may be what failed; the socket is gone anyway
            logger.warning("chat: could not leave the rooms of %s", self.channel_name)
        online = await in_database(chat.chat_presence_leave)(
            group_id=self.group_id, channel_name=self.channel_name
        )
        await self._broadcast({"type": "presence", "online": online})

    async def _broadcast(self, frame: dict, event_type: str = "chat.frame", **extra):
        room = realtime.room_name(self.group_id)
        try:
            await self.channel_layer.group_send(
                room, {"type": event_type, "text": json.dumps(frame), "room": room, **extra}
            )
        except Exception:  # presence and typing are best effort
            logger.warning("chat: could not broadcast %s", frame.get("type"))

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.closed:
            return
        await super().send(text_data=text_data, bytes_data=bytes_data)
        if close:
            await self.close()

    async def close(self, code=None, reason=None):
        if not self.closed:
            self.closed = True
            await super().close(code=code, reason=reason)

    async def websocket_disconnect(self, message):
        self.closed = True
        await super().websocket_disconnect(message)

    async def send_json(self, frame: dict):
        await self.send(text_data=json.dumps(frame))

    async def _error(self, code: str, message: str, **extra):
        await self.send_json({"type": "error", "code": code, "message": message, **extra})

    def _t(self, text_fn):
        with translation.override(self.language):
            return text_fn()

    async def _close(self, code: int, reason: str):
        await self.send_json({"type": "closed", "code": code, "reason": reason})
        await self.close(code=code)

    # --- Frames from the client ------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.outbox is None:  # not (yet) accepted
            return await self._receive(text_data, bytes_data)
        async with self.turn:
            return await self._receive(text_data, bytes_data)

    async def _receive(self, text_data=None, bytes_data=None):
        now = time.monotonic()
        if len(self.frames) == FRAME_BUDGET and now - self.frames[0] < FRAME_WINDOW:
            await self._error(
                "flooding", self._t(lambda: _("Too many messages at once: the chat disconnected."))
            )
            await self.close(code=realtime.CLOSE_FLOODING)
            return
        self.frames.append(now)
        if text_data is None:
            await self._error(
                "binary", self._t(lambda: _("The chat accepts text frames only, not binary data."))
            )
            return
        if len(text_data) > MAX_FRAME_BYTES:
            await self._error("too_large", self._t(lambda: _("This message is far too long.")))
            return
        try:
            frame = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested too deep
            await self._error("invalid_json", self._t(lambda: _("This message could not be read.")))
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        handler = self.HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            await self._error(
                "unknown_type", self._t(lambda: _("This kind of message is not understood."))
            )
            return
        if "group" in frame and frame["group"] not in (self.group_id, self.slug):
            await self._error(
                "wrong_room",
                self._t(lambda: _("This connection is for another group's chat.")),
            )
            return
        await handler(self, frame)

    async def _serve(self, action, frame: dict) -> bool:
        """Run ``action(access, frame)`` in the database thread with fresh rights.

        Closes the socket when the user may no longer see the room; turns a
        ``ChatError`` into an error frame. Returns whether the action succeeded.
        """
        outcome = await in_database(self._serve_sync)(action, frame)
        kind = outcome[0]
        if kind == "close":
            await self._close(outcome[1], outcome[2])
            return False
        if kind == "error":
            await self._error(outcome[1], outcome[2], **outcome[3])
            return False
        for reply in outcome[1]:
            await self.send_json(reply)
        return True

    def _serve_sync(self, action, frame: dict):
        access = chat.chat_access(
            user_id=self.user_id, group_id=self.group_id, previous=self.access
        )
        self.access = access
        if access is None:
            return ("close", realtime.CLOSE_FORBIDDEN, "membership")
        if access.is_archived:
            return ("close", realtime.CLOSE_ARCHIVED, "archived")
        with translation.override(access.user.language or settings.LANGUAGE_CODE):
            extra = {}
            if "client_id" in frame and isinstance(frame["client_id"], str):
                extra["client_id"] = frame["client_id"][:64]
            try:
                return ("ok", action(self, access, frame) or [])
            except chat.ChatError as exc:
                # A ValidationError lists itself (error_list = [self]), a cycle that
                # would keep its traceback, so this frame and this consumer, alive.
                exc.__traceback__ = None
                params = exc.params or {}
                if "retry_after" in params:
                    extra["retry_after"] = params["retry_after"]
                return ("error", exc.code or "invalid", exc.messages[0], extra)
            except PermissionDenied:
                return ("error", "forbidden", _("You are not allowed to do this."), extra)

    # Each action runs in the database thread and returns the frames for this socket.

    def _send(self, access, frame):
        message = chat.chat_message_post(
            actor=access.user,
            group=access.group,
            body=frame.get("body"),
            reply_to=frame.get("reply_to"),
            document=frame.get("document"),
            client_id=frame.get("client_id") or "",
        )
        return [
            {
                "type": "ack",
                "client_id": frame.get("client_id"),
                "id": message.pk,
                "seq": message.seq,
                "message": chat.message_payload(message, viewer_id=access.user.pk),
            }
        ]

    def _edit(self, access, frame):
        chat.chat_message_edit(
            actor=access.user,
            group=access.group,
            message_id=frame.get("id"),
            body=frame.get("body"),
        )

    def _delete(self, access, frame):
        chat.chat_message_delete(actor=access.user, group=access.group, message_id=frame.get("id"))

    def _read(self, access, frame):
        chat.chat_mark_read(user=access.user, group=access.group, seq=frame.get("seq"))

    def _ping(self, access, frame):
        chat.chat_presence_touch(channel_name=self.channel_name)
        return [
            {
                "type": "pong",
                "now": _now_iso(),
                "can_post": access.can_post,
                "latest_seq": chat.chat_latest_seq(access.group),
            }
        ]

    def _typing(self, access, frame):
        if not access.can_post:
            raise PermissionDenied
        return []

    def _resume_page(self, access, frame):
        after = frame.get("after")
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            raise chat.ChatError(_("This message could not be read."), code="invalid")
        page, more = chat.chat_history(group=access.group, after_seq=after, limit=chat.RESUME_BATCH)

        def payload(message):
            return chat.message_payload(message, viewer_id=access.user.pk)

        replies = []
        since = frame.get("since")
        if isinstance(since, str) and frame.get("_first"):
            try:
                when = datetime.fromisoformat(since)
                # In UTC, away from the ends of the calendar, where converting it (or
                # taking the clock margin off it) overflows.
                aware = timezone.is_aware(when)
                when = when.astimezone(UTC) if aware and 1 < when.year < 9999 else None
            except (ValueError, OverflowError):
                when = None
            if when is not None:
                changed = chat.chat_changed_since(group=access.group, since=when, upto_seq=after)
                if changed:
                    replies.append({"type": "messages", "messages": [payload(m) for m in changed]})
        replies.append({"type": "messages", "messages": [payload(m) for m in page], "more": more})
        frame["_upto"] = page[-1].seq if page else after
        frame["_more"] = more
        return replies

    async def on_send(self, frame):
        await self._serve(ChatConsumer._send, frame)

    async def on_edit(self, frame):
        await self._serve(ChatConsumer._edit, frame)

    async def on_delete(self, frame):
        await self._serve(ChatConsumer._delete, frame)

    async def on_read(self, frame):
        await self._serve(ChatConsumer._read, frame)

    async def on_ping(self, frame):
        # Join first, then read latest_seq: a message committed after the join is
        # broadcast to this socket, one committed before is counted in the pong.
        try:
            await self._join_rooms()
        except Exception:  # the layer is down: the pong still tells what was missed
            logger.warning("chat: could not re-join the rooms of %s", self.channel_name)
        await self._serve(ChatConsumer._ping, frame)

    async def on_typing(self, frame):
        now = time.monotonic()
        if now - self.last_typing < TYPING_EVERY:
            return
        self.last_typing = now
        if await self._serve(ChatConsumer._typing, frame):
            name = self.access.user.display_name
            await self._broadcast(
                {"type": "typing", "user": {"id": self.user_id, "name": name}},
                event_type="chat.typing",
                user_id=self.user_id,
            )

    async def on_resume(self, frame):
        """Everything after the client's last message, in batches, then ``resumed``."""
        request = {"after": frame.get("after"), "since": frame.get("since"), "_first": True}
        while True:
            if not await self._serve(ChatConsumer._resume_page, request):
                return
            if not request["_more"]:
                break
            request = {"after": request["_upto"]}
        await self.send_json({"type": "resumed", "upto": request["_upto"], "now": _now_iso()})

    HANDLERS = {
        "send": on_send,
        "edit": on_edit,
        "delete": on_delete,
        "read": on_read,
        "ping": on_ping,
        "typing": on_typing,
        "resume": on_resume,
    }

    # --- Events from the channel layer -----------------------------------

    async def chat_frame(self, event):
        client_id = event.get("client_id")
        if client_id and event.get("author_id") == self.user_id:
            # The author's own sockets learn which of their pending messages this is.
            frame = json.loads(event["text"])
            frame["message"]["client_id"] = client_id
            await self.send_json(frame)
            return
        await self.send(text_data=event["text"])

    async def chat_typing(self, event):
        if event.get("user_id") != self.user_id:
            await self.send(text_data=event["text"])

    async def chat_close(self, event):
        await self._close(event["code"], event.get("reason", ""))
