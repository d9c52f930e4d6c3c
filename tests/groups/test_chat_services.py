"""The chat services: what is stored, who may do what, what is refused, what is broadcast."""

from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from documents.services import document_bin
from groups import chat
from groups.models import ChatMessage, ChatMessageEdit, ChatReadMarker, Membership
from groups.services import group_archive, group_close, membership_remove
from portal.context_processors import portal as portal_context
from portal.models import Activity, Notification
from tests.conftest import make_secretariat
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group
from tests.helpers import assert_queries_do_not_grow

pytestmark = pytest.mark.django_db


@pytest.fixture
def room():
    group = make_group()
    return {
        "group": group,
        "coordinator": coordinator_of(group),
        "ana": add_member(group, UserFactory(full_name="Ana Lima")),
        "ben": add_member(group, UserFactory(full_name="Ben Okafor")),
    }


@pytest.fixture
def broadcasts():
    """Frames the services hand to the channel layer (after commit)."""
    with mock.patch("groups.realtime.room_broadcast") as sent:
        yield sent


def post(room, who="ana", body="Hello", **kwargs):
    return chat.chat_message_post(actor=room[who], group=room["group"], body=body, **kwargs)


def navigation_unread_chat(user):
    """The unread chat total the navigation shows ``user`` (a fresh request each call)."""
    request = RequestFactory().get("/")
    request.user = user
    return portal_context(request)["unread_chat"]


def test_messages_are_numbered_one_two_three_per_group(room):
    other = make_group()
    first, second = post(room, body="one"), post(room, who="ben", body="two")
    elsewhere = chat.chat_message_post(actor=coordinator_of(other), group=other, body="x")
    assert (first.seq, second.seq, elsewhere.seq) == (1, 2, 1)


def test_a_message_is_broadcast_only_after_commit(
    room, broadcasts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = post(room, body="After commit")
    broadcasts.assert_not_called()
    for callback in callbacks:
        callback()
    (call,) = broadcasts.call_args_list
    frame = call.kwargs["frame"]
    assert call.kwargs["group_id"] == room["group"].pk
    assert frame["type"] == "message"
    assert frame["message"]["id"] == message.pk
    assert frame["message"]["body"] == "After commit"
    assert frame["message"]["author"] == {"id": room["ana"].pk, "name": "Ana Lima"}


def test_text_is_cleaned_but_html_is_kept_as_text(room):
    message = post(room, body="  <script>alert(1)</script>\r\nline\x00two\x07  ")
    assert message.body == "<script>alert(1)</script>\nlinetwo"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * 100_000, "too_long"),
        (None, "invalid"),
        (42, "invalid"),
    ],
    ids=["empty", "blank", "100k", "none", "number"],
)
def test_bad_bodies_are_refused_and_nothing_is_stored(room, body, code):
    with pytest.raises(chat.ChatError) as exc:
        post(room, body=body)
    assert exc.value.code == code
    assert exc.value.messages[0]
    assert not ChatMessage.objects.exists()


def test_the_length_limit_is_inclusive(room, settings):
    settings.CHAT_MESSAGE_MAX_LENGTH = 10
    assert post(room, body="x" * 10).body == "x" * 10
    with pytest.raises(chat.ChatError, match="at most 10 characters"):
        post(room, body="x" * 11)


def test_posting_needs_an_active_membership_of_a_writable_group(room):
    outsider, staff = UserFactory(), make_secretariat(UserFactory())
    for user in (outsider, staff):
        with pytest.raises(PermissionDenied):
            chat.chat_message_post(actor=user, group=room["group"], body="hi")
    group_close(actor=staff, group=room["group"], reason="Work finished.")
    with pytest.raises(chat.ChatError) as exc:
        post(room)
    assert exc.value.code == "read_only"
    assert not ChatMessage.objects.exists()


def test_a_removed_member_cannot_post(room):
    membership = Membership.objects.get(user=room["ben"], group=room["group"], state="active")
    membership_remove(actor=room["coordinator"], membership=membership)
    with pytest.raises(PermissionDenied):
        post(room, who="ben")


def _access_at(seconds, **kwargs):
    """``chat.chat_access`` as if the process's monotonic clock read ``seconds``."""
    with mock.patch("groups.chat.time.monotonic", return_value=seconds):
        return chat.chat_access(**kwargs)


def _group_reads(queries) -> int:
    return sum('FROM "groups_expertgroup"' in q["sql"] for q in queries)


def test_a_socket_keeps_its_user_and_group_for_a_while_then_reads_them_again(room):
    group, ana = room["group"], room["ana"]
    first = _access_at(1000.0, user_id=ana.pk, slug=group.slug)
    assert first.can_post
    User.objects.filter(pk=ana.pk).update(full_name="Ana Renamed")
    group_close(actor=make_secretariat(UserFactory()), group=group, reason="Work finished.")
    later = _access_at(
        1000.0 + chat.ACCESS_REFRESH - 1, user_id=ana.pk, group_id=group.pk, previous=first
    )
    assert (later.user, later.group, later.can_post) == (first.user, first.group, True)
    assert later.user.full_name == "Ana Lima"
    fresh = _access_at(
        1000.0 + chat.ACCESS_REFRESH, user_id=ana.pk, group_id=group.pk, previous=later
    )
    assert fresh.user.full_name == "Ana Renamed"
    assert fresh.can_post is False  # the group was closed: read-only
    User.objects.filter(pk=ana.pk).update(is_active=False)
    assert (
        _access_at(
            1000.0 + 2 * chat.ACCESS_REFRESH, user_id=ana.pk, group_id=group.pk, previous=fresh
        )
        is None
    )


def test_the_sockets_of_a_process_share_one_read_of_their_group(room):
    group, ana, ben = room["group"], room["ana"], room["ben"]
    t0 = 1000.0
    ana_access = _access_at(t0, user_id=ana.pk, slug=group.slug)
    ben_access = _access_at(t0 + 1, user_id=ben.pk, slug=group.slug)
    refresh = t0 + chat.ACCESS_REFRESH + 1
    with CaptureQueriesContext(connection) as ana_queries:
        ana_access = _access_at(refresh, user_id=ana.pk, group_id=group.pk, previous=ana_access)
    group_close(actor=make_secretariat(UserFactory()), group=group, reason="Work finished.")
    with CaptureQueriesContext(connection) as ben_queries:
        ben_access = _access_at(refresh + 1, user_id=ben.pk, group_id=group.pk, previous=ben_access)
    assert _group_reads(ana_queries) == 1
    assert _group_reads(ben_queries) == 0
    assert ben_access.group is ana_access.group
    assert ben_access.can_post  # the shared copy is from before the closing ...
    # ... and counts as read when it was: Ben's socket reads again when that copy
    # is ACCESS_REFRESH old, not ACCESS_REFRESH after Ben's own refresh.
    with CaptureQueriesContext(connection) as again:
        ben_access = _access_at(
            refresh + chat.ACCESS_REFRESH,
            user_id=ben.pk,
            group_id=group.pk,
            previous=ben_access,
        )
    assert _group_reads(again) == 1
    assert ben_access.can_post is False
    # A socket's first access (by slug) reads the group itself.
    with CaptureQueriesContext(connection) as connecting:
        _access_at(refresh + chat.ACCESS_REFRESH + 1, user_id=ana.pk, slug=group.slug)
    assert _group_reads(connecting) == 1


def test_the_shared_groups_hold_only_the_groups_in_use(room):
    other = make_group()
    member = add_member(other, UserFactory())
    _access_at(1000.0, user_id=room["ana"].pk, slug=room["group"].slug)
    _access_at(1000.0 + chat.ACCESS_REFRESH, user_id=member.pk, slug=other.slug)
    assert set(chat._groups) == {other.pk}


def test_the_rate_limit_refuses_a_flood_then_lets_the_sender_write_again(room, settings):
    settings.CHAT_RATE_LIMIT = (3, 10)
    start = 1_000_000.0
    with mock.patch("groups.chat.time.time", return_value=start):
        for n in range(3):
            post(room, body=f"message {n}")
        with pytest.raises(chat.ChatError) as exc:
            post(room, body="one too many")
        assert exc.value.code == "rate_limited"
        assert exc.value.params["retry_after"] >= 1
        post(room, who="ben", body="others are not slowed down")
    with mock.patch("groups.chat.time.time", return_value=start + 11):
        post(room, body="later")
    assert ChatMessage.objects.filter(author=room["ana"]).count() == 4


def test_a_client_id_makes_sending_twice_store_once(
    room, broadcasts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(room, body="once", client_id="abc-123")
        again = post(room, body="once", client_id="abc-123")
    assert first.pk == again.pk
    assert ChatMessage.objects.count() == 1
    assert broadcasts.call_count == 1


def test_a_malformed_client_id_is_refused(room):
    with pytest.raises(chat.ChatError):
        post(room, client_id="<bad id>")


def test_a_reply_quotes_a_message_of_the_same_group_only(room):
    original = post(room, body="Question?")
    reply = post(room, who="ben", body="Answer.", reply_to=original.pk)
    payload = chat.message_payload(reply)
    assert payload["reply_to"]["id"] == original.pk
    assert payload["reply_to"]["excerpt"] == "Question?"
    other = make_group()
    foreign = chat.chat_message_post(actor=coordinator_of(other), group=other, body="secret")
    with pytest.raises(chat.ChatError) as exc:
        post(room, reply_to=foreign.pk)
    assert exc.value.code == "not_found"
    assert ChatMessage.objects.filter(group=room["group"]).count() == 2


def test_a_mention_notifies_the_member_in_the_notification_centre(room, mailoutbox):
    message = post(room, body="@ben okafor can you look at this? cc @nobody")
    assert list(message.mentions.all()) == [room["ben"]]
    note = Notification.objects.get(user=room["ben"])
    assert note.category == "chat"
    assert "Ana Lima" in note.title
    assert note.url == f"/g/{room['group'].slug}/chat/?around={message.seq}#message-{message.pk}"
    assert not Notification.objects.filter(user=room["ana"]).exists()


def test_a_mention_respects_the_email_preference(
    room, mailoutbox, django_capture_on_commit_callbacks
):
    from portal.services import notification_preferences_set

    notification_preferences_set(user=room["ben"], choices={"chat": "off"})
    with django_capture_on_commit_callbacks(execute=True):
        post(room, body="@Ben Okafor and @Ana Lima", who="coordinator")
    assert Notification.objects.filter(user=room["ben"]).exists()
    assert [m.to for m in mailoutbox] == [[room["ana"].email]]


def test_mentioning_an_outsider_notifies_nobody(room):
    outsider = UserFactory(full_name="Olga Outsider")
    post(room, body=f"@Olga Outsider @{outsider.email}")
    assert not Notification.objects.exists()


def test_the_author_edits_and_the_history_is_kept(
    room, broadcasts, django_capture_on_commit_callbacks
):
    message = post(room, body="Frist draft")
    with django_capture_on_commit_callbacks(execute=True):
        edited = chat.chat_message_edit(
            actor=room["ana"], group=room["group"], message_id=message.pk, body="First draft"
        )
    assert edited.body == "First draft"
    assert edited.edited_at is not None
    assert list(ChatMessageEdit.objects.values_list("body", flat=True)) == ["Frist draft"]
    frame = broadcasts.call_args.kwargs["frame"]
    assert frame["type"] == "changed"
    assert frame["message"]["edited_at"]


def test_an_edit_that_adds_a_mention_notifies_only_the_new_name(room):
    message = post(room, body="Hi @Ben Okafor")
    chat.chat_message_edit(
        actor=room["ana"], group=room["group"], message_id=message.pk, body="Hi @Ben Okafor and all"
    )
    assert Notification.objects.filter(user=room["ben"]).count() == 1


def test_nobody_edits_someone_elses_message(room):
    message = post(room, body="Mine")
    for who in ("ben", "coordinator"):
        with pytest.raises(chat.ChatError) as exc:
            chat.chat_message_edit(
                actor=room[who], group=room["group"], message_id=message.pk, body="Hacked"
            )
        assert exc.value.code == "forbidden"
    message.refresh_from_db()
    assert message.body == "Mine"
    assert not ChatMessageEdit.objects.exists()


def test_a_message_of_another_group_cannot_be_reached_through_this_group(room):
    other = make_group()
    foreign = chat.chat_message_post(actor=coordinator_of(other), group=other, body="theirs")
    for action in (
        lambda: chat.chat_message_edit(
            actor=coordinator_of(other), group=room["group"], message_id=foreign.pk, body="x"
        ),
        lambda: chat.chat_message_delete(
            actor=room["coordinator"], group=room["group"], message_id=foreign.pk
        ),
    ):
        with pytest.raises(chat.ChatError) as exc:
            action()
        assert exc.value.code == "not_found"
    foreign.refresh_from_db()
    assert foreign.body == "theirs" and foreign.deleted_at is None


def test_the_author_deletes_their_message_and_its_text_is_erased(room):
    message = post(room, body="Oops @Ben Okafor")
    chat.chat_message_edit(
        actor=room["ana"], group=room["group"], message_id=message.pk, body="Oops!"
    )
    chat.chat_message_delete(actor=room["ana"], group=room["group"], message_id=message.pk)
    message.refresh_from_db()
    assert message.deleted_by == room["ana"] and message.deleted_at is not None
    assert message.body == ""
    assert not message.edits.exists()
    assert not message.mentions.exists()
    payload = chat.message_payload(message)
    assert payload["deleted"] and payload["deleted_by_author"] and payload["body"] == ""
    assert not Activity.objects.filter(verb="chat.message_removed").exists()


def test_a_member_cannot_delete_someone_elses_message(room):
    message = post(room, body="Mine")
    with pytest.raises(chat.ChatError) as exc:
        chat.chat_message_delete(actor=room["ben"], group=room["group"], message_id=message.pk)
    assert exc.value.code == "forbidden"
    message.refresh_from_db()
    assert message.deleted_at is None


@pytest.mark.parametrize("moderator", ["coordinator", "secretariat"])
def test_a_coordinator_or_the_secretariat_removes_any_message_and_it_is_recorded(room, moderator):
    actor = room["coordinator"] if moderator == "coordinator" else make_secretariat(UserFactory())
    message = post(room, body="Off topic")
    chat.chat_message_delete(actor=actor, group=room["group"], message_id=message.pk)
    message.refresh_from_db()
    assert message.deleted_by == actor
    assert not chat.message_payload(message)["deleted_by_author"]
    activity = Activity.objects.get(verb="chat.message_removed")
    assert activity.actor == actor and activity.group == room["group"]
    assert activity.data["seq"] == message.seq
    with pytest.raises(chat.ChatError) as exc:
        chat.chat_message_delete(actor=actor, group=room["group"], message_id=message.pk)
    assert exc.value.code == "deleted"


def test_history_pages_backwards_and_catches_up_forwards(room, settings):
    settings.CHAT_RATE_LIMIT = (1000, 10)
    for n in range(1, 8):
        post(room, body=f"m{n}")
    latest, more = chat.chat_history(group=room["group"], limit=3)
    assert [m.seq for m in latest] == [5, 6, 7] and more
    earlier, more = chat.chat_history(group=room["group"], before_seq=5, limit=3)
    assert [m.seq for m in earlier] == [2, 3, 4] and more
    first, more = chat.chat_history(group=room["group"], before_seq=2, limit=3)
    assert [m.seq for m in first] == [1] and not more
    after, more = chat.chat_history(group=room["group"], after_seq=4, limit=2)
    assert [m.seq for m in after] == [5, 6] and more


def test_changed_since_finds_edits_and_deletions_of_older_messages(room):
    a, b, c = post(room, body="a"), post(room, body="b"), post(room, body="c")
    since = timezone.now()
    ChatMessage.objects.filter(pk=a.pk).update(edited_at=since - timedelta(hours=1))
    chat.chat_message_edit(actor=room["ana"], group=room["group"], message_id=b.pk, body="B")
    chat.chat_message_delete(actor=room["ana"], group=room["group"], message_id=c.pk)
    changed = chat.chat_changed_since(group=room["group"], since=since, upto_seq=3)
    assert [m.seq for m in changed] == [2, 3]


def test_history_costs_the_same_queries_however_many_messages(room, settings):
    settings.CHAT_RATE_LIMIT = (1000, 10)
    original = post(room, body="first @Ben Okafor")

    def read():
        page, _more = chat.chat_history(group=room["group"])
        [chat.message_payload(m) for m in page]

    def grow():
        for n in range(5):
            post(room, who="ben", body=f"reply {n} @Ana Lima", reply_to=original.pk)

    assert_queries_do_not_grow(read, grow)


def test_history_reads_only_what_the_payload_needs_and_says_the_same(room, settings):
    """The history's rows are trimmed to the payload's columns (chat.PAYLOAD_FIELDS):
    every kind of message says the same as from the full rows, with no query more."""
    settings.CHAT_RATE_LIMIT = (1000, 10)
    group = room["group"]
    document = upload_document(group, room["ana"], title="Agenda")
    binned = upload_document(group, room["ana"], title="Old draft")
    first = post(room, body="first @Ben Okafor")
    post(room, who="ben", body="an answer", reply_to=first.pk)
    post(room, body="see the agenda", document=document.pk)
    post(room, body="the old draft", document=binned.pk)
    removed = post(room, who="ben", body="to be removed")
    chat.chat_message_delete(actor=room["coordinator"], group=group, message_id=removed.pk)
    post(room, who="ana", body="a reply to a removed one", reply_to=removed.pk)
    post(room, who="ben", body="before leaving")
    document_bin(actor=room["ana"], document=binned)
    type(room["ben"]).objects.filter(pk=room["ben"].pk).update(deleted_at=timezone.now())

    page, _more = chat.chat_history(group=group)
    with CaptureQueriesContext(connection) as queries:
        trimmed = [chat.message_payload(m, viewer_id=room["ana"].pk) for m in page]
    assert len(queries) == 0  # nothing deferred is read afterwards
    full = [
        chat.message_payload(m, viewer_id=room["ana"].pk)
        for m in chat.chat_messages(group).order_by("seq")
    ]
    assert trimmed == full
    assert len(trimmed) == 7
    assert {p["author"]["name"] for p in trimmed} >= {"Ana Lima", "Former member"}
    assert [p["document"]["title"] for p in trimmed if p["document"]] == ["Agenda", None]


def test_unread_counts_per_group_exclude_own_and_deleted_messages_and_clear_when_read(room):
    other = make_group()
    add_member(other, room["ana"])
    post(room, who="ben", body="1")
    gone = post(room, who="ben", body="2")
    post(room, who="coordinator", body="3")
    post(room, who="ana", body="mine")
    chat.chat_message_delete(actor=room["ben"], group=room["group"], message_id=gone.pk)
    chat.chat_message_post(actor=coordinator_of(other), group=other, body="x")
    assert chat.chat_unread_counts(room["ana"]) == {room["group"].pk: 2, other.pk: 1}
    assert navigation_unread_chat(room["ana"]) == 3
    chat.chat_mark_read(user=room["ana"], group=room["group"], seq=2)
    assert chat.chat_unread_counts(room["ana"]) == {room["group"].pk: 1, other.pk: 1}
    chat.chat_mark_read(user=room["ana"], group=room["group"], seq=1)  # never moves back
    assert ChatReadMarker.objects.get(user=room["ana"], group=room["group"]).last_read_seq == 2
    chat.chat_mark_read(user=room["ana"], group=room["group"], seq=10_000)  # clamped
    assert ChatReadMarker.objects.get(user=room["ana"], group=room["group"]).last_read_seq == 4
    assert chat.chat_unread_counts(room["ana"]) == {other.pk: 1}


def test_unread_counts_take_one_query(room):
    post(room, who="ben", body="1")
    with CaptureQueriesContext(connection) as ctx:
        chat.chat_unread_counts(room["ana"])
    assert len(ctx.captured_queries) == 1


def test_posting_takes_a_fixed_number_of_queries_and_numbers_in_order(room):
    post(room, body="warm up", client_id="w-1")
    with CaptureQueriesContext(connection) as ctx:
        message = post(room, body="counted", client_id="w-2")
    assert message.seq == 2
    # the client id look-up, the next number, the insert (inside the test: two savepoint steps)
    assert len(ctx.captured_queries) <= 5, [q["sql"][:60] for q in ctx.captured_queries]


def test_a_stranger_cannot_mark_a_room_read(room):
    with pytest.raises(PermissionDenied):
        chat.chat_mark_read(user=UserFactory(), group=room["group"], seq=1)


def test_presence_lists_open_sockets_and_forgets_stale_ones(room):
    group = room["group"]
    assert chat.chat_presence_join(user=room["ana"], group=group, channel_name="c1") == [
        {"id": room["ana"].pk, "name": "Ana Lima"}
    ]
    chat.chat_presence_join(user=room["ana"], group=group, channel_name="c2")
    online = chat.chat_presence_join(user=room["ben"], group=group, channel_name="c3")
    assert [p["name"] for p in online] == ["Ana Lima", "Ben Okafor"]
    assert [p["name"] for p in chat.chat_presence_leave(group_id=group.pk, channel_name="c3")] == [
        "Ana Lima"
    ]
    from groups.models import ChatPresence

    ChatPresence.objects.update(seen_at=timezone.now() - timedelta(minutes=5))
    assert chat.chat_online(group) == []


def test_archiving_closes_every_socket_of_the_group(room, django_capture_on_commit_callbacks):
    staff = make_secretariat(UserFactory())
    group_close(actor=staff, group=room["group"], reason="Done.")
    with (
        mock.patch("groups.realtime.group_close_sockets") as close,
        django_capture_on_commit_callbacks(execute=True),
    ):
        group_archive(actor=staff, group=room["group"])
    close.assert_called_once_with(group_id=room["group"].pk)


def test_a_broadcast_that_fails_does_not_undo_the_message(room, django_capture_on_commit_callbacks):
    with (
        mock.patch("groups.realtime.get_channel_layer", side_effect=OSError("redis down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        message = post(room, body="still stored")
    assert ChatMessage.objects.filter(pk=message.pk).exists()


# --- Document links -------------------------------------------------------


def test_a_message_links_a_document_of_its_group(
    room, broadcasts, django_capture_on_commit_callbacks
):
    document = upload_document(room["group"], room["ben"], title="Draft handbook")
    with django_capture_on_commit_callbacks(execute=True):
        message = post(room, body="Please read", document=document.pk)
    assert message.document == document
    expected = {
        "id": document.pk,
        "title": "Draft handbook",
        "url": f"/g/{room['group'].slug}/documents/{document.pk}/",
    }
    assert broadcasts.call_args.kwargs["frame"]["message"]["document"] == expected
    (reread,) = chat.chat_history(group=room["group"])[0]
    assert chat.message_payload(reread)["document"] == expected
    assert chat.chat_linkable_documents(room["group"]) == [document]


def test_a_message_without_a_document_says_so(room):
    assert chat.message_payload(post(room))["document"] is None


@pytest.mark.parametrize("case", ["other_group", "binned", "missing", "not_a_number"])
def test_a_document_that_may_not_be_linked_is_refused_and_nothing_is_stored(room, case):
    if case == "other_group":
        other = make_group()
        document = upload_document(other, coordinator_of(other)).pk
    elif case == "binned":
        document = upload_document(room["group"], room["ana"])
        document_bin(actor=room["ana"], document=document)
        document = document.pk
    elif case == "missing":
        document = 999_999
    else:
        document = "1"
    with pytest.raises(chat.ChatError) as exc:
        post(room, body="See this", document=document)
    assert exc.value.code == "document"
    assert exc.value.messages[0]
    assert not ChatMessage.objects.exists()
    assert chat.chat_latest_seq(room["group"]) == 0


def test_a_document_of_another_group_is_refused_like_a_missing_one(room):
    other = make_group()
    foreign = upload_document(other, coordinator_of(other))
    messages = []
    for document in (foreign.pk, 999_999):
        with pytest.raises(chat.ChatError) as exc:
            post(room, document=document)
        messages.append(exc.value.messages)
    assert messages[0] == messages[1] == ["The document you link is not in this group."]


def test_a_linked_document_moved_to_the_bin_later_loses_its_title_and_link(room):
    document = upload_document(room["group"], room["ben"], title="Confidential draft")
    message = post(room, document=document.pk)
    document_bin(actor=room["ben"], document=document)
    (reread,) = chat.chat_history(group=room["group"])[0]
    assert chat.message_payload(reread)["document"] == {
        "id": document.pk,
        "title": None,
        "url": None,
    }
    assert chat.chat_linkable_documents(room["group"]) == []
    chat.chat_message_delete(actor=room["ana"], group=room["group"], message_id=message.pk)
    message.refresh_from_db()
    assert message.document is None


# --- The client id stays with its author ----------------------------------


def test_the_client_id_is_told_only_to_the_author(
    room, broadcasts, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = post(room, body="mine", client_id="ana-tab-1")
    call = broadcasts.call_args
    assert "client_id" not in call.kwargs["frame"]["message"]
    assert "ana-tab-1" not in str(call.kwargs["frame"])
    # beside the frame, for the author's own sockets only (ChatConsumer.chat_frame)
    assert (call.kwargs["author_id"], call.kwargs["client_id"]) == (room["ana"].pk, "ana-tab-1")
    assert chat.message_payload(message, viewer_id=room["ana"].pk)["client_id"] == "ana-tab-1"
    assert "client_id" not in chat.message_payload(message, viewer_id=room["ben"].pk)
    assert "client_id" not in chat.message_payload(message)


# --- Unread counts for new members ----------------------------------------


def test_a_new_member_sees_only_messages_sent_since_joining_as_unread(room):
    start = timezone.now().replace(microsecond=0) + timedelta(minutes=5)
    with time_machine.travel(start, tick=False):
        for n in range(3):
            post(room, who="ben", body=f"old {n}")
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        newcomer = add_member(room["group"], UserFactory())
    assert chat.chat_unread_counts(newcomer) == {}
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        post(room, who="ben", body="welcome!")
    assert chat.chat_unread_counts(newcomer) == {room["group"].pk: 1}
    assert navigation_unread_chat(newcomer) == 1
    # Members who were there all along still count everything they have not read.
    assert chat.chat_unread_counts(room["ana"]) == {room["group"].pk: 4}


def test_unread_counts_with_membership_start_still_take_one_query(room):
    other = make_group()
    add_member(other, room["ana"])
    post(room, who="ben", body="1")
    with CaptureQueriesContext(connection) as ctx:
        counts = chat.chat_unread_counts(room["ana"])
    assert counts == {room["group"].pk: 1}
    assert len(ctx.captured_queries) == 1


# --- Around one message ---------------------------------------------------


def test_history_around_a_message_shows_it_with_its_neighbours(room):
    ChatMessage.objects.bulk_create(
        ChatMessage(group=room["group"], seq=n, author=room["ben"], body=f"m{n}")
        for n in range(1, 121)
    )
    page, earlier, later = chat.chat_history_around(group=room["group"], seq=40, limit=10)
    assert [m.seq for m in page] == list(range(35, 45))
    assert (earlier, later) == (True, True)
    page, earlier, later = chat.chat_history_around(group=room["group"], seq=2, limit=10)
    assert [m.seq for m in page] == list(range(1, 7))
    assert (earlier, later) == (False, True)
    page, earlier, later = chat.chat_history_around(group=room["group"], seq=118, limit=10)
    assert [m.seq for m in page] == list(range(113, 121))
    assert (earlier, later) == (True, False)
