"""The chat socket under hostile frames: it answers, it stays up, it stores only what it acks.

Hypothesis draws a short sequence of frames: every frame type the consumer knows
(``send``, ``edit``, ``delete``, ``read``, ``typing``, ``ping``, ``resume``) with
fields of the wrong type, huge numbers, ids of another group's messages, odd
times; unknown types; JSON that is not an object; text that is not JSON; JSON
nested too deep; binary frames; frames over the size limit. A sender socket
sends them through the real ASGI stack (session cookie, origin check) while an
observer socket of another member listens. After each frame a marker frame
(a ``read`` the consumer must refuse, carrying a unique ``client_id`` that its
error frame repeats) tells where the answers to that frame end.

What must hold, for every sequence:

- each frame gets the answer of its kind: an error frame with a code and a
  message, or the normal answer (``ack``, ``pong``, ``resumed``…); the consumer
  never crashes and the socket stays open (flooding, which closes it by design,
  is covered in tests/groups/test_chat_consumer.py);
- the observer still receives messages afterwards, and so does the sender;
- a ChatMessage is stored for each ``ack`` with a new id, and for nothing else.
"""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.cache import cache
from django.test import Client, override_settings
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from documents import services as document_services
from groups import chat
from groups.consumers import MAX_FRAME_BYTES
from groups.models import ChatMessage
from tests.conftest import make_secretariat
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

from .strategies import CHARACTERS, HUGE_INTEGERS, MALICIOUS, examples, hostile_text

pytestmark = [
    pytest.mark.django_db(transaction=True),
    # A failing sequence may hold a 100 kB frame: Hypothesis warns before printing it.
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

TIMEOUT = 5
MEMORY_LAYER = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
KNOWN = {"send", "edit", "delete", "read", "typing", "ping", "resume"}
#: Every frame type the server sends.
SERVER_TYPES = {
    "hello",
    "message",
    "changed",
    "messages",
    "resumed",
    "ack",
    "presence",
    "typing",
    "pong",
    "error",
    "closed",
}
#: What a frame that is not a frame of a known type is answered with.
REFUSALS = {
    "binary": ("binary",),
    "too_large": ("too_large",),
    "not_json": ("invalid_json",),
    "deep": ("invalid_json", "unknown_type"),  # too deep to read, or a list: not an object
    "not_an_object": ("unknown_type",),
    "unknown_type": ("unknown_type",),
}


@pytest.fixture(autouse=True)
def _chat_threads_closed():
    """The consumer's database threads hold connections: close them after each test."""
    from groups.consumers import close_database_threads

    yield
    close_database_threads()


def session_of(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def world(transactional_db):
    group = make_group(slug="target")
    other = make_group(slug="elsewhere")
    member = add_member(group, UserFactory(full_name="Ana Lima"))
    observer = add_member(group, UserFactory(full_name="Ben Okafor"))
    other_member = add_member(other)
    coordinator = coordinator_of(group)
    staff = make_secretariat(UserFactory(full_name="Sam Secretariat"))
    document = upload_document(group, member)
    binned = upload_document(group, member, name="old.pdf")
    document_services.document_bin(actor=member, document=binned)
    own = chat.chat_message_post(actor=member, group=group, body="Mine")
    theirs = chat.chat_message_post(actor=observer, group=group, body="Ben's")
    coordinators = chat.chat_message_post(actor=coordinator, group=group, body="From the chair")
    foreign = chat.chat_message_post(actor=other_member, group=other, body="Elsewhere")
    foreign_document = upload_document(other, other_member, name="theirs.pdf")
    cache.clear()
    users = {"member": member, "coordinator": coordinator, "secretariat": staff}
    return {
        "group": group,
        "cookies": {name: session_of(user) for name, user in users.items()},
        "observer": session_of(observer),
        "message_ids": [own.pk, theirs.pk, coordinators.pk, foreign.pk, 10**6],
        "document_ids": [document.pk, binned.pk, foreign_document.pk, 10**6],
        "latest": chat.chat_latest_seq(group),
    }


# --- Frames --------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    HUGE_INTEGERS,
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(CHARACTERS, max_size=50),
    st.sampled_from(MALICIOUS),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
TIMES = [
    "2027-03-01T09:00:00+01:00",
    "2027-03-01T09:00:00",  # naive
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-14:00",
    "2027-02-30T10:00:00+00:00",
    "yesterday",
    "",
]


def field_values(world, name: str):
    """Plausible and hostile values of one field of a frame."""
    plausible = {
        "body": st.one_of(
            st.just("Hello @Ben Okafor"),
            hostile_text,
            st.integers(0, 10).map(lambda n: "x" * (chat.max_length() - 5 + n)),
        ),
        "id": st.sampled_from(world["message_ids"]),
        "reply_to": st.sampled_from(world["message_ids"] + [0, -1]),
        "document": st.sampled_from(world["document_ids"] + [0, -1]),
        "client_id": st.sampled_from(["c1", "c-2_3", "x" * 64, "x" * 65, "bad id!", "", "é"]),
        "after": st.sampled_from([0, world["latest"], world["latest"] + 5, -1, 2**63, 10**40]),
        "since": st.sampled_from(TIMES),
        "seq": st.sampled_from([0, 1, world["latest"], 2**63, -(2**63), 10**40]),
        "group": st.sampled_from([world["group"].pk, "target", "elsewhere", 0]),
    }[name]
    return st.one_of(plausible, json_values)


FIELDS = ["body", "id", "reply_to", "document", "client_id", "after", "since", "seq", "group"]


@st.composite
def frame_of_a_known_type(draw, world):
    kind = draw(st.sampled_from(sorted(KNOWN)))
    frame = {"type": kind}
    for name in draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=5)):
        frame[name] = draw(field_values(world, name))
    return ("known", kind, json.dumps(frame))


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def frames(world):
    """One frame: (what it is, its type if known, the text or bytes sent)."""
    return st.one_of(
        frame_of_a_known_type(world),
        frame_of_a_known_type(world),
        frame_of_a_known_type(world),
        st.binary(max_size=200).map(lambda b: ("binary", None, b)),
        st.integers(MAX_FRAME_BYTES + 1, 2 * MAX_FRAME_BYTES).map(
            lambda n: ("too_large", None, json.dumps({"type": "send", "body": "x" * n}))
        ),
        hostile_text.filter(lambda t: not _is_json(t)).map(
            lambda t: ("too_large" if len(t) > MAX_FRAME_BYTES else "not_json", None, t)
        ),
        st.integers(1_000, MAX_FRAME_BYTES // 2 - 1).map(lambda n: ("deep", None, deep(n))),
        json_values.filter(lambda v: not isinstance(v, dict)).map(
            lambda v: ("not_an_object", None, json.dumps(v))
        ),
        json_values.filter(lambda v: not (isinstance(v, str) and v in KNOWN)).map(
            lambda v: ("unknown_type", None, json.dumps({"type": v, "body": "x"}))
        ),
    )


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# --- The sockets ---------------------------------------------------------------------


async def open_socket(application, cookie: str) -> WebsocketCommunicator:
    headers = [
        (b"origin", b"http://localhost"),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()),
    ]
    socket = WebsocketCommunicator(application, "/ws/groups/target/chat/", headers)
    connected, code = await socket.connect(timeout=TIMEOUT)
    assert connected, f"refused with {code}"
    hello = json.loads((await socket.receive_output(TIMEOUT))["text"])
    assert hello["type"] == "hello"
    return socket


async def answers_until(socket, marker: str) -> list[dict]:
    """The frames the socket receives until the error frame answering ``marker``."""
    received = []
    while True:
        output = await socket.receive_output(TIMEOUT)  # raises what crashed the consumer
        assert output["type"] == "websocket.send", f"the socket was closed: {output}"
        frame = json.loads(output["text"])
        assert isinstance(frame, dict) and frame.get("type") in SERVER_TYPES, frame
        if frame["type"] == "error" and frame.get("client_id") == marker:
            return received
        received.append(frame)


async def until_frame(socket, kind: str, **match) -> dict:
    while True:
        output = await socket.receive_output(TIMEOUT)
        assert output["type"] == "websocket.send", f"the socket was closed: {output}"
        frame = json.loads(output["text"])
        if frame["type"] == kind and all(
            frame.get("message", frame).get(k) == v for k, v in match.items()
        ):
            return frame


def check_answers(what: str, kind: str | None, answers: list[dict]) -> list[dict]:
    """The answers to one frame are of its kind; returns the acks among them."""
    mine = [a for a in answers if a["type"] in {"error", "ack", "pong", "resumed", "messages"}]
    errors = [a for a in mine if a["type"] == "error"]
    for error in errors:
        assert isinstance(error.get("code"), str) and error["code"], error
        assert isinstance(error.get("message"), str) and error["message"], error
    if what in REFUSALS:
        assert [e["code"] for e in errors] in [[code] for code in REFUSALS[what]], answers
        assert len(mine) == 1, answers
        return []
    acks = [a for a in mine if a["type"] == "ack"]
    if kind == "send":
        assert len(acks) + len(errors) == 1, answers
    elif kind == "ping":
        assert len(errors) + len([a for a in mine if a["type"] == "pong"]) == 1, answers
    elif kind == "resume":
        resumed = [a for a in mine if a["type"] == "resumed"]
        assert len(errors) + len(resumed) == 1, answers
    else:  # edit, delete, read, typing: silent when done (a change is broadcast)
        assert len(errors) <= 1 and len(mine) == len(errors), answers
    assert not acks or kind == "send", answers
    return acks


# --- The test --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "n"), [("member", 40), ("coordinator", 15), ("secretariat", 10)]
)
def test_hostile_frames_get_an_answer_and_store_only_what_is_acked(world, persona, n):
    from portal.asgi import application

    counter = iter(range(10**9))

    @hypothesis_settings(max_examples=examples(n))
    @given(sequence=st.lists(frames(world), min_size=1, max_size=6))
    def attack(sequence):
        cache.clear()  # the rate limit starts afresh
        before = set(ChatMessage.objects.values_list("pk", flat=True))
        acks: list[dict] = []
        observer_ack: dict = {}

        async def scenario():
            sender = await open_socket(application, world["cookies"][persona])
            observer = await open_socket(application, world["observer"])
            try:
                for what, kind, payload in sequence:
                    # Straight to the application: send_to() refuses empty frames.
                    key = "bytes" if isinstance(payload, bytes) else "text"
                    await sender.send_input({"type": "websocket.receive", key: payload})
                    marker = f"zz-marker-{next(counter)}"
                    await sender.send_json_to({"type": "read", "seq": None, "client_id": marker})
                    acks.extend(check_answers(what, kind, await answers_until(sender, marker)))
                # Both sockets still receive what the room says.
                await observer.send_json_to(
                    {"type": "send", "body": "Still here?", "client_id": f"obs{next(counter)}"}
                )
                observer_ack.update(await until_frame(observer, "ack"))
                await until_frame(sender, "message", id=observer_ack["id"])
            finally:
                for socket in (sender, observer):
                    if not socket.future.done():  # a timeout already stopped it
                        await socket.disconnect()

        with override_settings(CHANNEL_LAYERS=MEMORY_LAYER):
            async_to_sync(scenario)()
        created = set(ChatMessage.objects.values_list("pk", flat=True)) - before
        acked = {ack["id"] for ack in acks} - before
        assert created - {observer_ack["id"]} == acked, "stored without an ack, or acked unstored"

    attack()
