"""The chat consumer through the real ASGI stack (origin check, session auth, routing).

Every scenario runs twice: on the in-memory channel layer, and on channels-redis
against the Redis of ``REDIS_URL`` (skipped without it, failed in CI). Clients
are Channels' ``WebsocketCommunicator``s carrying a real session cookie.
"""

import asyncio
import json
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from groups import chat, realtime
from groups.models import ChatMessage, ChatMessageEdit, ChatReadMarker, Membership
from groups.services import group_archive, group_close, membership_leave, membership_remove
from tests.conftest import make_secretariat, need_service
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 2
NOISE = {"presence", "pong", "typing", "ack"}


def _redis_answers(url: str) -> bool:
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["memory", "redis"])
def layer(request, settings):
    """The channel layer the scenario runs on (a fresh one per test)."""
    if request.param == "redis":
        need_service(_redis_answers(settings.REDIS_URL), "needs Redis: set REDIS_URL=redis://…/6")
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": f"t{uuid.uuid4().hex[:8]}"},
            }
        }
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.CHAT_RATE_LIMIT = (1000, 10)
    return request.param


@pytest.fixture(autouse=True)
def _chat_threads_closed():
    """The consumer's database threads hold connections: close them after each test."""
    from groups.consumers import close_database_threads

    yield
    close_database_threads()


@pytest.fixture
def world(layer):
    group = make_group(slug="target")
    other = make_group(slug="elsewhere")
    users = {
        "anonymous": None,
        "outsider": UserFactory(full_name="Olga Outsider"),
        "other_member": add_member(other, UserFactory(full_name="Otto Other")),
        "member": add_member(group, UserFactory(full_name="Ana Lima")),
        "member2": add_member(group, UserFactory(full_name="Ben Okafor")),
        "coordinator": coordinator_of(group),
        "secretariat": make_secretariat(UserFactory(full_name="Sam Secretariat")),
    }
    cookies = {name: session_of(user) for name, user in users.items() if user is not None}
    return {"group": group, "other": other, "users": users, "cookies": cookies}


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def run(scenario, *args):
    """Run an async scenario from a plain pytest test (database calls stay on this thread)."""
    from portal.asgi import application

    async def main():
        async with AsyncExitStack() as stack:
            await scenario(Sockets(application, stack), *args)

    async_to_sync(main)()


class Sockets:
    def __init__(self, application, stack: AsyncExitStack):
        self.application = application
        self.stack = stack

    async def open(self, cookie=None, slug="target", origin="http://localhost", accept=True):
        headers = [(b"origin", origin.encode())] if origin else []
        if cookie:
            headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        socket = WebsocketCommunicator(self.application, f"/ws/groups/{slug}/chat/", headers)
        connected, code = await socket.connect(timeout=TIMEOUT)
        self.stack.push_async_callback(socket.disconnect)
        if accept:
            assert connected, f"refused with {code}"
            hello = await next_frame(socket, "hello")
            socket.hello = hello
        socket.refusal = None if connected else code
        return socket


async def next_frame(socket, kind: str, timeout: float = TIMEOUT, skip=()) -> dict:
    """The next frame of ``kind``, skipping presence, pong and typing frames (and ``skip``)."""
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        if frame["type"] == kind:
            return frame
        assert frame["type"] in NOISE | set(skip), f"expected {kind}, got {frame}"


async def closed_with(socket, code: int) -> dict:
    frame = await next_frame(socket, "closed")
    assert frame["code"] == code
    output = await socket.receive_output(timeout=TIMEOUT)
    assert output == {"type": "websocket.close", "code": code}
    return frame


async def nothing_more(socket, timeout: float = 0.2) -> None:
    """No frame other than presence/typing noise arrives within ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        if await socket.receive_nothing(timeout=left):
            return
        frame = await socket.receive_json_from()
        assert frame["type"] in NOISE, f"unexpected {frame}"


db = database_sync_to_async


# --- Who may connect ------------------------------------------------------

# Who may connect at all (and the close code of everyone else) is in the persona table
# of tests/test_authorization_matrix.py; here, what each persona let in may do.
PERSONAS = {
    # persona: (can_post, can_moderate)
    "member": (True, False),
    "coordinator": (True, True),
    # The secretariat reads every room and may remove messages, but writes only
    # where it is a member: a chat is the members' conversation.
    "secretariat": (False, True),
}


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_chat_socket_lets_each_persona_do_what_it_may(world, persona):
    can_post, can_moderate = PERSONAS[persona]

    async def scenario(sockets):
        socket = await sockets.open(world["cookies"][persona], accept=False)
        assert socket.refusal is None
        hello = await next_frame(socket, "hello")
        assert hello["group"] == {"id": world["group"].pk, "slug": "target"}
        assert (hello["can_post"], hello["can_moderate"]) == (can_post, can_moderate)
        await socket.send_json_to({"type": "send", "body": f"from {persona}", "client_id": "c1"})
        if can_post:
            assert (await next_frame(socket, "ack"))["client_id"] == "c1"
        else:
            error = await next_frame(socket, "error")
            assert error["code"] == "forbidden" and error["client_id"] == "c1"

    run(scenario)
    assert ChatMessage.objects.filter(author__isnull=False).count() == (1 if can_post else 0)


def test_a_socket_from_another_site_is_refused(world):
    async def scenario(sockets):
        for origin in ("https://evil.example", None):
            socket = await sockets.open(world["cookies"]["member"], origin=origin, accept=False)
            assert socket.refusal is not None

    run(scenario)


def test_a_member_of_one_group_cannot_open_another_groups_room_or_a_missing_one(world):
    async def scenario(sockets):
        for slug in ("elsewhere", "no-such-group"):
            socket = await sockets.open(world["cookies"]["member"], slug=slug, accept=False)
            assert socket.refusal == realtime.CLOSE_FORBIDDEN

    run(scenario)


def test_an_archived_groups_room_refuses_sockets(world):
    staff = world["users"]["secretariat"]
    group_close(actor=staff, group=world["group"], reason="Done.")
    group_archive(actor=staff, group=world["group"])

    async def scenario(sockets):
        socket = await sockets.open(world["cookies"]["member"], accept=False)
        assert socket.refusal == realtime.CLOSE_ARCHIVED

    run(scenario)


# --- Talking --------------------------------------------------------------


def test_two_members_chat_live_with_replies(world):
    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        await ana.send_json_to({"type": "send", "body": "Hello Ben", "client_id": "a1"})
        ack = await next_frame(ana, "ack")
        for socket in (ana, ben):
            message = (await next_frame(socket, "message"))["message"]
            assert message["id"] == ack["id"] and message["seq"] == 1
            assert message["author"]["name"] == "Ana Lima"
            assert message["body"] == "Hello Ben"
        await ben.send_json_to({"type": "send", "body": "Hi!", "reply_to": ack["id"]})
        reply = (await next_frame(ana, "message"))["message"]
        assert reply["reply_to"]["excerpt"] == "Hello Ben"
        assert reply["seq"] == 2

    run(scenario)


def test_edits_and_deletions_reach_everyone_and_are_recorded(world):
    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        coordinator = await sockets.open(world["cookies"]["coordinator"])
        await ana.send_json_to({"type": "send", "body": "Frist"})
        sent = (await next_frame(ben, "message"))["message"]
        await ana.send_json_to({"type": "edit", "id": sent["id"], "body": "First"})
        changed = (await next_frame(ben, "changed"))["message"]
        assert changed["body"] == "First" and changed["edited_at"]
        await coordinator.send_json_to({"type": "delete", "id": sent["id"]})
        for socket in (ana, ben):
            while True:
                removed = (await next_frame(socket, "changed", skip={"ack", "message"}))["message"]
                if removed["deleted"]:
                    break
            assert removed["body"] == "" and not removed["deleted_by_author"]

    run(scenario)
    assert ChatMessageEdit.objects.count() == 0  # erased with the text
    assert ChatMessage.objects.get().deleted_by == world["users"]["coordinator"]


def test_html_and_script_travel_as_plain_text(world):
    body = '<img src=x onerror="alert(1)"><script>alert(2)</script>'

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        await ana.send_json_to({"type": "send", "body": body})
        assert (await next_frame(ben, "message"))["message"]["body"] == body

    run(scenario)
    assert ChatMessage.objects.get().body == body


BAD_FRAMES = [
    # (what is sent, error code)
    ("not json at all", "invalid_json"),
    # Nested too deep for json.loads (RecursionError), yet under the size limit: it used
    # to crash the consumer (found by tests/hostile/test_chat_frames.py).
    ("[" * 30_000 + "]" * 30_000, "invalid_json"),
    ("[1, 2, 3]", "unknown_type"),
    ('{"body": "no type"}', "unknown_type"),
    ('{"type": "shout", "body": "x"}', "unknown_type"),
    (b"\x00\x01binary", "binary"),
    ('{"type": "send", "body": "' + "x" * 70_000 + '"}', "too_large"),
    ('{"type": "send", "body": "' + "x" * 100_000 + '"}', "too_large"),
    ('{"type": "send", "body": "' + "x" * 5_000 + '"}', "too_long"),
    ('{"type": "send", "body": ""}', "empty"),
    ('{"type": "send", "body": "   "}', "empty"),
    ('{"type": "send", "body": ["a"]}', "invalid"),
    ('{"type": "send"}', "invalid"),
    ('{"type": "send", "body": "hi", "client_id": "<script>"}', "invalid"),
    ('{"type": "edit", "id": "1", "body": "x"}', "not_found"),
    ('{"type": "delete", "id": null}', "not_found"),
    ('{"type": "resume", "after": "zero"}', "invalid"),
    ('{"type": "read", "seq": "all"}', "invalid"),
]


def test_bad_frames_get_a_clear_error_and_the_room_keeps_working(world):
    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        for frame, code in BAD_FRAMES:
            if isinstance(frame, bytes):
                await ana.send_to(bytes_data=frame)
            else:
                await ana.send_to(text_data=frame)
            error = await next_frame(ana, "error")
            assert error["code"] == code, frame[:60]
            assert error["message"]
        await ana.send_json_to({"type": "send", "body": "still here"})
        assert (await next_frame(ben, "message"))["message"]["body"] == "still here"
        assert (await next_frame(ana, "message"))["message"]["body"] == "still here"
        await ben.send_json_to({"type": "send", "body": "me too"})
        assert (await next_frame(ana, "message"))["message"]["body"] == "me too"

    run(scenario)
    assert list(ChatMessage.objects.values_list("body", flat=True)) == ["still here", "me too"]


def test_nobody_edits_or_deletes_someone_elses_message_over_the_socket(world):
    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        await ana.send_json_to({"type": "send", "body": "Ana's words"})
        message = (await next_frame(ben, "message"))["message"]
        await next_frame(ana, "message")
        await ben.send_json_to({"type": "edit", "id": message["id"], "body": "Ben's words"})
        assert (await next_frame(ben, "error"))["code"] == "forbidden"
        await ben.send_json_to({"type": "delete", "id": message["id"]})
        assert (await next_frame(ben, "error"))["code"] == "forbidden"
        await nothing_more(ana)

    run(scenario)
    message = ChatMessage.objects.get()
    assert message.body == "Ana's words" and message.deleted_at is None


def test_a_frame_cannot_reach_another_groups_room(world):
    foreign = chat.chat_message_post(
        actor=coordinator_of(world["other"]), group=world["other"], body="elsewhere"
    )

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        for frame in (
            {"type": "send", "body": "smuggled", "group": world["other"].pk},
            {"type": "send", "body": "smuggled", "group": "elsewhere"},
            {"type": "delete", "id": foreign.pk},
            {"type": "send", "body": "smuggled", "reply_to": foreign.pk},
        ):
            await ana.send_json_to(frame)
            assert (await next_frame(ana, "error"))["code"] in ("wrong_room", "not_found")
        await ana.send_json_to({"type": "send", "body": "mine", "group": world["group"].pk})
        assert (await next_frame(ana, "message"))["message"]["body"] == "mine"

    run(scenario)
    assert ChatMessage.objects.filter(group=world["other"]).count() == 1
    assert not ChatMessage.objects.filter(body="smuggled").exists()
    foreign.refresh_from_db()
    assert foreign.deleted_at is None


def test_a_flood_of_messages_is_rate_limited_without_disturbing_others(world, settings):
    settings.CHAT_RATE_LIMIT = (5, 60)

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        codes = []
        for n in range(8):
            await ana.send_json_to({"type": "send", "body": f"spam {n}", "client_id": f"s{n}"})
            frame = await ana.receive_json_from(timeout=TIMEOUT)
            while frame["type"] not in ("ack", "error"):
                frame = await ana.receive_json_from(timeout=TIMEOUT)
            codes.append(frame.get("code", "ok"))
            if frame["type"] == "error":
                assert frame["retry_after"] >= 1
        assert codes == ["ok"] * 5 + ["rate_limited"] * 3
        await ben.send_json_to({"type": "send", "body": "unaffected"})
        assert (await next_frame(ben, "ack", skip={"message"}))["seq"] == 6

    run(scenario)
    assert ChatMessage.objects.count() == 6


def test_a_socket_flooding_frames_is_closed_and_the_others_stay(world):
    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        for _ in range(70):
            await ana.send_to(text_data="{}")
        while True:
            output = await ana.receive_output(timeout=TIMEOUT)
            if output["type"] == "websocket.close":
                break
            if json.loads(output["text"]).get("code") == "flooding":
                continue
        assert output["code"] == realtime.CLOSE_FLOODING
        await ben.send_json_to({"type": "send", "body": "still fine"})
        assert (await next_frame(ben, "message"))["message"]["body"] == "still fine"

    run(scenario)


def test_a_resent_message_is_stored_once(world):
    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        frame = {"type": "send", "body": "once", "client_id": "same-id"}
        await ana.send_json_to(frame)
        first = await next_frame(ana, "ack")
        await next_frame(ana, "message")
        await ana.send_json_to(frame)
        second = await next_frame(ana, "ack")
        assert first["id"] == second["id"]
        await nothing_more(ana)  # and no second broadcast

    run(scenario)
    assert ChatMessage.objects.count() == 1


# --- Membership changes close sockets -------------------------------------


def test_removing_a_member_closes_their_socket_at_once(world):
    group = world["group"]

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        membership = await db(Membership.objects.get)(user=world["users"]["member2"], group=group)
        await db(membership_remove)(actor=world["users"]["coordinator"], membership=membership)
        frame = await closed_with(ben, realtime.CLOSE_FORBIDDEN)
        assert frame["reason"] == "membership"
        await ana.send_json_to({"type": "send", "body": "after"})
        assert (await next_frame(ana, "ack"))["seq"] == 1

    run(scenario)


def test_leaving_closes_ones_own_sockets(world):
    async def scenario(sockets):
        ben = await sockets.open(world["cookies"]["member2"])
        await db(membership_leave)(actor=world["users"]["member2"], group=world["group"])
        await closed_with(ben, realtime.CLOSE_FORBIDDEN)

    run(scenario)


def test_membership_is_checked_again_for_every_message(world):
    """Even if the close event were lost, the next frame of a removed member is refused."""

    async def scenario(sockets):
        ben = await sockets.open(world["cookies"]["member2"])
        await db(
            lambda: Membership.objects.filter(user=world["users"]["member2"]).update(
                state="removed", ended_at=timezone.now()
            )
        )()
        await ben.send_json_to({"type": "send", "body": "should not be stored"})
        await closed_with(ben, realtime.CLOSE_FORBIDDEN)

    run(scenario)
    assert not ChatMessage.objects.exists()


def test_archiving_a_group_closes_every_socket(world):
    staff = world["users"]["secretariat"]
    group_close(actor=staff, group=world["group"], reason="Done.")

    async def scenario(sockets):
        readers = [
            await sockets.open(world["cookies"][who])
            for who in ("member", "coordinator", "secretariat")
        ]
        await db(group_archive)(actor=staff, group=world["group"])
        for socket in readers:
            assert (await closed_with(socket, realtime.CLOSE_ARCHIVED))["reason"] == "archived"

    run(scenario)


def test_an_expired_group_is_readable_but_nobody_posts(world):
    group_close(actor=world["users"]["secretariat"], group=world["group"], reason="Done.")

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        assert ana.hello["can_post"] is False
        await ana.send_json_to({"type": "send", "body": "too late"})
        assert (await next_frame(ana, "error"))["code"] == "read_only"

    run(scenario)
    assert not ChatMessage.objects.exists()


# --- Nothing lost ---------------------------------------------------------


def test_a_client_that_reconnects_gets_everything_after_the_last_message_it_saw(world):
    """The reconnect path: messages stored while the socket was down (a dropped
    connection, a restarted web process or Redis) are delivered on resume, with the
    edits and deletions of messages it had already seen."""
    group, ana = world["group"], world["users"]["member"]

    async def scenario(sockets):
        first = await sockets.open(world["cookies"]["member2"])
        await first.send_json_to({"type": "resume", "after": 0, "since": first.hello["now"]})
        batch = await next_frame(first, "messages")
        assert batch["messages"] == []
        await next_frame(first, "resumed")
        for body in ("one", "two"):
            await db(chat.chat_message_post)(actor=ana, group=group, body=body)
            await next_frame(first, "message")
        await first.send_json_to({"type": "ping"})
        seen_at = (await next_frame(first, "pong"))["now"]
        await first.disconnect()

        # While Ben is away: three new messages, an edit and a deletion of ones he saw.
        one = await db(ChatMessage.objects.get)(body="one")
        two = await db(ChatMessage.objects.get)(body="two")
        for body in ("three", "four", "five"):
            await db(chat.chat_message_post)(actor=ana, group=group, body=body)
        await db(chat.chat_message_edit)(actor=ana, group=group, message_id=one.pk, body="ONE")
        await db(chat.chat_message_delete)(actor=ana, group=group, message_id=two.pk)

        again = await sockets.open(world["cookies"]["member2"])
        await again.send_json_to({"type": "resume", "after": 2, "since": seen_at})
        changed = (await next_frame(again, "messages"))["messages"]
        assert [(m["seq"], m["body"], m["deleted"]) for m in changed] == [
            (1, "ONE", False),
            (2, "", True),
        ]
        missed = await next_frame(again, "messages")
        assert [m["body"] for m in missed["messages"]] == ["three", "four", "five"]
        assert missed["more"] is False
        resumed = await next_frame(again, "resumed")
        assert resumed["upto"] == 5
        # and then live again
        await db(chat.chat_message_post)(actor=ana, group=group, body="six")
        assert (await next_frame(again, "message"))["message"]["seq"] == 6

    run(scenario)


def test_a_long_absence_is_caught_up_in_batches(world, monkeypatch):
    monkeypatch.setattr(chat, "RESUME_BATCH", 3)
    for n in range(1, 8):
        chat.chat_message_post(actor=world["users"]["member"], group=world["group"], body=f"m{n}")

    async def scenario(sockets):
        ben = await sockets.open(world["cookies"]["member2"])
        await ben.send_json_to({"type": "resume", "after": 1})
        seqs, flags = [], []
        while True:
            frame = await ben.receive_json_from(timeout=TIMEOUT)
            if frame["type"] == "messages":
                seqs += [m["seq"] for m in frame["messages"]]
                flags.append(frame["more"])
            elif frame["type"] == "resumed":
                break
        assert seqs == [2, 3, 4, 5, 6, 7]
        assert flags == [True, False]
        assert frame["upto"] == 7

    run(scenario)


def test_a_stale_since_is_ignored_not_fatal(world):
    async def scenario(sockets):
        ben = await sockets.open(world["cookies"]["member2"])
        await ben.send_json_to({"type": "resume", "after": 0, "since": "yesterday-ish"})
        assert (await next_frame(ben, "resumed", skip={"messages"}))["upto"] == 0

    run(scenario)


# --- Presence, typing, reading --------------------------------------------


def test_presence_shows_who_is_online_and_typing_reaches_the_others(world):
    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        assert [p["name"] for p in ana.hello["online"]] == ["Ana Lima"]
        ben = await sockets.open(world["cookies"]["member2"])
        presence = await next_frame(ana, "presence")
        while [p["name"] for p in presence["online"]] != ["Ana Lima", "Ben Okafor"]:
            presence = await next_frame(ana, "presence")
        await ben.send_json_to({"type": "typing"})
        typing = await ana.receive_json_from(timeout=TIMEOUT)
        while typing["type"] != "typing":
            typing = await ana.receive_json_from(timeout=TIMEOUT)
        assert typing["user"]["name"] == "Ben Okafor"
        await ben.disconnect()
        presence = await next_frame(ana, "presence")
        while [p["name"] for p in presence["online"]] != ["Ana Lima"]:
            presence = await next_frame(ana, "presence")
        # Nobody hears their own typing.
        await ana.send_json_to({"type": "typing"})
        assert await ana.receive_nothing(timeout=0.2)

    run(scenario)


def test_the_secretariat_cannot_pretend_to_type(world):
    async def scenario(sockets):
        staff = await sockets.open(world["cookies"]["secretariat"])
        await staff.send_json_to({"type": "typing"})
        assert (await next_frame(staff, "error"))["code"] == "forbidden"

    run(scenario)


def test_reading_over_the_socket_moves_the_read_marker(world):
    for body in ("a", "b", "c"):
        chat.chat_message_post(actor=world["users"]["member"], group=world["group"], body=body)

    async def scenario(sockets):
        ben = await sockets.open(world["cookies"]["member2"])
        await ben.send_json_to({"type": "read", "seq": 2})
        await ben.send_json_to({"type": "ping"})
        await next_frame(ben, "pong")

    run(scenario)
    marker = ChatReadMarker.objects.get(user=world["users"]["member2"])
    assert marker.last_read_seq == 2
    assert chat.chat_unread_counts(world["users"]["member2"]) == {world["group"].pk: 1}


def test_a_ping_refreshes_presence(world):
    from groups.models import ChatPresence

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        await db(ChatPresence.objects.update)(seen_at=timezone.now() - timedelta(minutes=10))
        assert await db(chat.chat_online)(world["group"]) == []
        await ana.send_json_to({"type": "ping"})
        await next_frame(ana, "pong")
        assert [p["name"] for p in await db(chat.chat_online)(world["group"])] == ["Ana Lima"]

    run(scenario)


# --- After the channel layer forgot the rooms (a quick Redis restart) -------


async def _forget_rooms(layer: str, group_id: int) -> None:
    """What a Redis restart does to the rooms while the sockets stay open: the
    process's subscriptions to the room and to its members' rooms are gone."""
    from channels.layers import get_channel_layer

    hub = realtime.hub_for(get_channel_layer())
    rooms = [r for r in hub.rooms if r.startswith(realtime.room_name(group_id))]
    assert len(rooms) >= 3  # the room and each member's room
    for room in rooms:
        await hub.forget(room)


def test_a_ping_joins_the_rooms_again_and_tells_what_was_missed(world, layer):
    group, ben_user = world["group"], world["users"]["member2"]

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        await _forget_rooms(layer, group.pk)
        await ana.send_json_to({"type": "send", "body": "while the rooms were forgotten"})
        assert (await next_frame(ana, "ack"))["seq"] == 1  # stored, but broadcast to nobody
        await nothing_more(ben)
        await nothing_more(ana)

        for socket in (ana, ben):
            await socket.send_json_to({"type": "ping"})
            # The client sees it is behind (chat.js resumes from its last number).
            assert (await next_frame(socket, "pong"))["latest_seq"] == 1
        await ben.send_json_to({"type": "resume", "after": 0})
        missed = await next_frame(ben, "messages")
        assert [m["body"] for m in missed["messages"]] == ["while the rooms were forgotten"]
        await next_frame(ben, "resumed")

        # In the rooms again: live messages arrive…
        await ana.send_json_to({"type": "send", "body": "and now live"})
        assert (await next_frame(ben, "message"))["message"]["body"] == "and now live"
        # …and so does the close of one member's sockets (the member's own room).
        membership = await db(Membership.objects.get)(user=ben_user, group=group)
        await db(membership_remove)(actor=world["users"]["coordinator"], membership=membership)
        await closed_with(ben, realtime.CLOSE_FORBIDDEN)

    run(scenario)


def test_a_pong_carries_the_latest_number(world):
    for body in ("a", "b"):
        chat.chat_message_post(actor=world["users"]["member"], group=world["group"], body=body)

    async def scenario(sockets):
        ben = await sockets.open(world["cookies"]["member2"])
        await ben.send_json_to({"type": "ping"})
        assert (await next_frame(ben, "pong"))["latest_seq"] == 2

    run(scenario)


# --- The client id stays with its author ----------------------------------


def test_the_client_id_reaches_only_its_authors_sockets(world):
    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ana_other_tab = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        await ana.send_json_to({"type": "send", "body": "hello", "client_id": "ana-c1"})
        ack = await next_frame(ana, "ack")
        assert ack["client_id"] == "ana-c1"
        assert ack["message"]["client_id"] == "ana-c1" and ack["message"]["body"] == "hello"
        for socket in (ana, ana_other_tab):
            assert (await next_frame(socket, "message"))["message"]["client_id"] == "ana-c1"
        received = (await next_frame(ben, "message"))["message"]
        assert received["body"] == "hello" and "client_id" not in received

        # Resuming: the author's own messages come with it, nobody else's do.
        await ben.send_json_to({"type": "resume", "after": 0})
        (theirs,) = (await next_frame(ben, "messages"))["messages"]
        assert "client_id" not in theirs
        await ana.send_json_to({"type": "resume", "after": 0})
        (own,) = (await next_frame(ana, "messages"))["messages"]
        assert own["client_id"] == "ana-c1"

    run(scenario)


# --- Document links -------------------------------------------------------


def test_a_message_links_a_group_document_and_another_groups_is_refused(world):
    document = upload_document(world["group"], world["users"]["member2"], title="Plan")
    other = world["other"]
    foreign = upload_document(other, coordinator_of(other), title="Elsewhere")

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        ben = await sockets.open(world["cookies"]["member2"])
        await ana.send_json_to(
            {"type": "send", "body": "smuggled", "document": foreign.pk, "client_id": "x1"}
        )
        error = await next_frame(ana, "error")
        assert error["code"] == "document" and error["client_id"] == "x1"
        assert error["message"] == "The document you link is not in this group."
        await nothing_more(ben)
        await ana.send_json_to({"type": "send", "body": "Read this", "document": document.pk})
        linked = (await next_frame(ben, "message"))["message"]
        assert linked["document"] == {
            "id": document.pk,
            "title": "Plan",
            "url": f"/g/target/documents/{document.pk}/",
        }

    run(scenario)
    assert list(ChatMessage.objects.values_list("body", "document")) == [("Read this", document.pk)]


@pytest.mark.parametrize(
    "since", ["0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
)
def test_a_resume_since_the_ends_of_the_calendar_is_answered(world, since):
    """Such a ``since`` used to overflow the consumer's date arithmetic and crash it
    (found while writing tests/hostile/test_chat_frames.py): it is ignored like an
    unreadable one."""
    chat.chat_message_post(actor=world["users"]["member2"], group=world["group"], body="Hi")

    async def scenario(sockets):
        ana = await sockets.open(world["cookies"]["member"])
        await ana.send_json_to({"type": "resume", "after": 0, "since": since})
        batch = await next_frame(ana, "messages")
        assert [m["body"] for m in batch["messages"]] == ["Hi"]
        assert (await next_frame(ana, "resumed"))["upto"] == 1

    run(scenario)
