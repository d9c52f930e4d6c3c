"""The chat's HTTP side: the room page, history JSON, the form fallback, exports, unread badges."""

import csv
import io
import json
import re
from http import HTTPStatus
from unittest import mock

import pytest
from django.urls import reverse

from documents.services import document_bin
from groups import chat
from groups.models import ChatMessage
from groups.services import group_archive, group_close
from tests.conftest import make_secretariat
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group
from tests.helpers import assert_queries_do_not_grow

pytestmark = pytest.mark.django_db


@pytest.fixture
def room():
    group = make_group(slug="probation-tech")
    return {
        "group": group,
        "coordinator": coordinator_of(group),
        "ana": add_member(group, UserFactory(full_name="Ana Lima")),
        "ben": add_member(group, UserFactory(full_name="Ben Okafor")),
    }


def url(name, room, **query):
    path = reverse(f"groups:{name}", kwargs={"slug": room["group"].slug})
    return path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def post(room, who="ana", body="Hello", **kwargs):
    return chat.chat_message_post(actor=room[who], group=room["group"], body=body, **kwargs)


def json_script(html: str, element_id: str):
    match = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, element_id
    return json.loads(match.group(1))


def test_the_room_shows_the_latest_messages_as_text_with_clickable_links(client, room):
    post(room, body='<script>alert("x")</script> <b>bold</b>')
    post(room, who="ben", body="See https://example.org/report?a=1 and javascript:alert(1)")
    client.force_login(room["ana"])
    response = client.get(url("chat", room))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<b>bold</b>" not in html
    assert '<a href="https://example.org/report?a=1" rel="nofollow">' in html
    assert 'href="javascript' not in html
    assert 'aria-current="page">Chat<' in html
    # Data for chat.js travels as JSON data blocks, never as inline script.
    assert not re.search(r"<script(?![^>]*(src=|application/json))", html)
    config = json_script(html, "chat-config")
    assert config["ws_path"] == "/ws/groups/probation-tech/chat/"
    assert config["live"] and config["can_post"] and not config["can_moderate"]
    assert config["texts"]["reconnecting"] == "Reconnecting…"
    initial = json_script(html, "chat-initial")
    assert [m["body"][:8] for m in initial] == ["<script>", "See http"]
    members = json_script(html, "chat-members")
    assert {m["name"] for m in members} >= {"Ana Lima", "Ben Okafor"}


def test_the_room_page_in_french(client, room):
    room["ana"].language = "fr"
    room["ana"].save()
    client.force_login(room["ana"])
    config = json_script(client.get(url("chat", room)).content.decode(), "chat-config")
    assert config["language"] == "fr"


def test_opening_the_room_clears_its_unread_count(client, room):
    post(room, who="ben", body="one")
    post(room, who="ben", body="two")
    client.force_login(room["ana"])
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert 'aria-label="2 unread chat messages">2</a>' in dashboard
    assert nav_total(2) in dashboard  # the navigation total
    client.get(url("chat", room))
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "unread chat message" not in dashboard


# The navigation's total (templates/base.html) and a group's Chat tab (groups/_header.html).
def _badge(label: str, n: int) -> str:
    words = "unread chat message" if n == 1 else "unread chat messages"
    return (
        f'{label} <span class="count" aria-hidden="true">{n}</span>'
        f'<span class="visually-hidden">{n} {words}</span></a>'
    )


def nav_total(n: int) -> str:
    return _badge("Dashboard", n)


def chat_tab(n: int) -> str:
    return _badge("Chat", n)


def test_each_groups_chat_tab_shows_its_own_unread_count_and_the_nav_the_total(client, room):
    other = make_group(slug="second-group")
    add_member(other, room["ana"])
    post(room, who="ben", body="one")
    post(room, who="ben", body="two")
    chat.chat_message_post(actor=coordinator_of(other), group=other, body="three")
    client.force_login(room["ana"])
    html = client.get(reverse("groups:detail", kwargs={"slug": room["group"].slug})).content
    html = html.decode()
    assert chat_tab(2) in html
    assert nav_total(3) in html
    # on the other group's pages, including those of the documents and meetings apps
    for name in ("groups:members", "documents:list", "meetings:group_list"):
        html = client.get(reverse(name, kwargs={"slug": "second-group"})).content.decode()
        assert chat_tab(1) in html, name
    # Reading one room clears its tab only.
    client.get(url("chat", room))
    html = client.get(reverse("groups:detail", kwargs={"slug": "second-group"})).content.decode()
    assert chat_tab(1) in html and nav_total(1) in html
    html = client.get(reverse("groups:detail", kwargs={"slug": room["group"].slug})).content
    assert b"unread chat message" in html  # the nav (1, for the other group)
    assert b">Chat</a>" in html


def test_a_new_member_is_not_shown_the_whole_history_as_unread(client, room):
    for n in range(3):
        post(room, who="ben", body=f"before {n}")
    newcomer = add_member(room["group"], UserFactory())
    client.force_login(newcomer)
    html = client.get(reverse("groups:detail", kwargs={"slug": room["group"].slug})).content
    assert b"unread chat message" not in html


def test_the_dashboard_costs_the_same_queries_with_more_groups_and_messages(client, room):
    client.force_login(room["ana"])

    def grow():
        group = make_group()
        add_member(group, room["ana"])
        chat.chat_message_post(actor=coordinator_of(group), group=group, body="hi")

    assert_queries_do_not_grow(lambda: client.get(reverse("dashboard")), grow)


def test_earlier_pages_without_javascript(client, room, settings):
    settings.CHAT_RATE_LIMIT = (1000, 10)
    for n in range(1, 56):
        post(room, body=f"message number {n}.")
    client.force_login(room["ben"])
    html = client.get(url("chat", room)).content.decode()
    assert "message number 6." in html and "message number 5." not in html
    assert 'href="?before=6"' in html
    html = client.get(url("chat", room, before=6)).content.decode()
    assert "message number 5." in html and "message number 6." not in html
    assert "This is the beginning of the chat." in html
    assert not json_script(html, "chat-config")["live"]


def test_history_json_pages_backwards_and_forwards(client, room, settings):
    settings.CHAT_RATE_LIMIT = (1000, 10)
    for n in range(1, 8):
        post(room, body=f"m{n}")
    client.force_login(room["ben"])
    data = client.get(url("chat_history", room, before=5, limit=3)).json()
    assert [m["seq"] for m in data["messages"]] == [2, 3, 4] and data["has_more"]
    data = client.get(url("chat_history", room, after=5)).json()
    assert [m["body"] for m in data["messages"]] == ["m6", "m7"] and not data["has_more"]
    data = client.get(url("chat_history", room, before="x", limit="-3")).json()
    assert len(data["messages"]) == 7


def test_a_mention_opens_the_room_around_an_old_message(client, room, settings):
    settings.CHAT_RATE_LIMIT = (1000, 10)
    post(room, body="Ask @Ben Okafor about the budget")
    for n in range(2, 121):
        post(room, body=f"message number {n}.")
    note = room["ben"].notifications.get()
    path, _sep, fragment = note.url.partition("#")
    assert path == url("chat", room, around=1)
    mention = ChatMessage.objects.get(seq=1)
    assert fragment == f"message-{mention.pk}"
    client.force_login(room["ben"])
    html = client.get(note.url).content.decode()
    assert f'id="message-{mention.pk}"' in html
    assert "Ask @Ben Okafor about the budget" in html
    assert 'class="chat-msg is-highlighted"' in html
    assert "message number 25." in html and "message number 26." not in html
    assert "This is the beginning of the chat." in html
    assert "Back to the latest messages" in html
    assert not json_script(html, "chat-config")["live"]  # a static page, like ?before=
    # The next page carries on where this one ends, until the latest messages.
    assert 'href="?around=51"' in html
    html = client.get(url("chat", room, around=51)).content.decode()
    assert "message number 26." in html and "message number 25." not in html
    assert "message number 75." in html and "message number 76." not in html
    assert 'href="?before=26"' in html and 'href="?around=101"' in html
    html = client.get(url("chat", room, around=101)).content.decode()
    assert json_script(html, "chat-config")["live"]  # among the latest: the live room
    assert "message number 120." in html


def test_an_around_of_a_recent_or_bad_number_is_the_live_room(client, room):
    post(room, body="recent")
    client.force_login(room["ben"])
    for around in ("1", "999", "x", "-4"):
        html = client.get(url("chat", room, around=around)).content.decode()
        assert json_script(html, "chat-config")["live"], around
        assert "recent" in html


def test_history_sends_the_client_id_to_its_author_only(client, room):
    post(room, body="mine", client_id="ana-1")
    client.force_login(room["ana"])
    (own,) = client.get(url("chat_history", room)).json()["messages"]
    assert own["client_id"] == "ana-1"
    assert (
        json_script(client.get(url("chat", room)).content.decode(), "chat-initial")[0]["client_id"]
        == "ana-1"
    )
    client.force_login(room["ben"])
    (theirs,) = client.get(url("chat_history", room)).json()["messages"]
    assert "client_id" not in theirs
    assert "ana-1" not in client.get(url("chat", room)).content.decode()


def test_the_composer_offers_the_groups_documents_and_messages_link_them(client, room):
    handbook = upload_document(room["group"], room["ben"], title="Handbook <draft>")
    binned = upload_document(room["group"], room["ben"], title="Old notes")
    document_bin(actor=room["ben"], document=binned)
    other = make_group()
    upload_document(other, coordinator_of(other), title="Elsewhere plan")
    client.force_login(room["ana"])
    html = client.get(url("chat", room)).content.decode()
    assert f'<option value="{handbook.pk}">Handbook &lt;draft&gt;</option>' in html
    assert "Old notes" not in html and "Elsewhere plan" not in html
    response = client.post(url("chat_post", room), {"body": "Read this", "document": handbook.pk})
    assert response.status_code == HTTPStatus.FOUND
    message = ChatMessage.objects.get()
    assert message.document == handbook
    html = client.get(url("chat", room)).content.decode()
    link = f'<a href="/g/probation-tech/documents/{handbook.pk}/">Handbook &lt;draft&gt;</a>'
    assert link in html
    (payload,) = json_script(html, "chat-initial")
    assert payload["document"]["title"] == "Handbook <draft>"


def test_the_form_fallback_refuses_another_groups_document(client, room):
    other = make_group()
    foreign = upload_document(other, coordinator_of(other), title="Elsewhere plan")
    client.force_login(room["ana"])
    response = client.post(
        url("chat_post", room), {"body": "smuggled", "document": foreign.pk}, follow=True
    )
    assert "The document you link is not in this group." in response.content.decode()
    assert not ChatMessage.objects.exists()


def test_the_secretariat_does_not_get_a_document_picker(client, room):
    upload_document(room["group"], room["ben"], title="Handbook")
    client.force_login(make_secretariat(UserFactory()))
    assert 'id="chat-document"' not in client.get(url("chat", room)).content.decode()


def test_history_never_sends_deleted_text(client, room):
    message = post(room, body="regrettable")
    chat.chat_message_delete(actor=room["coordinator"], group=room["group"], message_id=message.pk)
    client.force_login(room["ben"])
    (payload,) = client.get(url("chat_history", room)).json()["messages"]
    assert payload["deleted"] and payload["body"] == ""
    assert "regrettable" not in client.get(url("chat", room)).content.decode()


def test_the_form_fallback_posts_through_the_service_and_broadcasts(
    client, room, django_capture_on_commit_callbacks
):
    client.force_login(room["ana"])
    with (
        mock.patch("groups.realtime.room_broadcast") as broadcast,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(url("chat_post", room), {"body": "Without JavaScript"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == url("chat", room)
    assert ChatMessage.objects.get().body == "Without JavaScript"
    assert broadcast.call_args.kwargs["frame"]["message"]["body"] == "Without JavaScript"


def test_the_form_fallback_explains_a_refusal(client, room):
    client.force_login(room["ana"])
    response = client.post(url("chat_post", room), {"body": "   "}, follow=True)
    assert "Write something before sending." in response.content.decode()
    assert not ChatMessage.objects.exists()


def test_the_secretariat_reads_but_does_not_write(client, room):
    staff = make_secretariat(UserFactory())
    post(room, body="visible to staff")
    client.force_login(staff)
    html = client.get(url("chat", room)).content.decode()
    assert "visible to staff" in html
    assert 'id="chat-form"' not in html
    assert "only members of an active group can write" in html
    assert client.post(url("chat_post", room), {"body": "x"}).status_code == HTTPStatus.FORBIDDEN
    assert ChatMessage.objects.count() == 1


def test_an_archived_group_keeps_a_read_only_transcript(client, room):
    post(room, body="for the record")
    staff = make_secretariat(UserFactory())
    group_close(actor=staff, group=room["group"], reason="Done.")
    group_archive(actor=staff, group=room["group"])
    client.force_login(room["ana"])
    html = client.get(url("chat", room)).content.decode()
    assert "for the record" in html
    assert "kept as a read-only transcript" in html
    assert 'id="chat-form"' not in html
    assert not json_script(html, "chat-config")["live"]
    client.post(url("chat_post", room), {"body": "too late"})
    assert ChatMessage.objects.count() == 1


def test_the_secretariat_exports_the_chat_as_csv(client, room):
    first = post(room, body='=HYPERLINK("http://evil")')
    post(room, who="ben", body="Line one\nline two", reply_to=first.pk)
    edited = post(room, body="befor")
    chat.chat_message_edit(
        actor=room["ana"], group=room["group"], message_id=edited.pk, body="before"
    )
    gone = post(room, who="ben", body="secret")
    chat.chat_message_delete(actor=room["coordinator"], group=room["group"], message_id=gone.pk)
    client.force_login(make_secretariat(UserFactory()))
    response = client.get(url("chat_export", room, format="csv"))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"] == 'attachment; filename="probation-tech-chat.csv"'
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["number"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["text"] == '\'=HYPERLINK("http://evil")'  # not run as a formula
    assert rows[1]["text"] == "Line one\nline two" and rows[1]["reply_to_number"] == "1"
    assert rows[2]["earlier_versions"] == "1" and rows[2]["edited_at_utc"]
    assert rows[3]["text"] == "" and rows[3]["deleted_by"] == str(room["coordinator"])
    assert "secret" not in text


def test_the_secretariat_exports_the_chat_as_text(client, room):
    message = post(room, body="befor")
    chat.chat_message_edit(
        actor=room["ana"], group=room["group"], message_id=message.pk, body="before"
    )
    client.force_login(make_secretariat(UserFactory()))
    response = client.get(url("chat_export", room, format="txt"))
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    assert "#1 Ana Lima: before" in text
    assert "(before the edit of" in text and ": befor)" in text


def test_members_and_coordinators_cannot_export(client, room):
    for who in ("ana", "coordinator"):
        client.force_login(room[who])
        assert client.get(url("chat_export", room)).status_code == HTTPStatus.FORBIDDEN


def test_the_secretariat_exports_an_archived_groups_chat_as_csv_and_text(client, room):
    question = post(room, body="For the record?")
    post(room, who="ben", body="Recorded.", reply_to=question.pk)
    staff = make_secretariat(UserFactory())
    group_close(actor=staff, group=room["group"], reason="Done.")
    group_archive(actor=staff, group=room["group"])
    client.force_login(staff)
    response = client.get(url("chat_export", room, format="csv"))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"] == 'attachment; filename="probation-tech-chat.csv"'
    rows = list(
        csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig")))
    )
    assert [(r["number"], r["text"], r["reply_to_number"]) for r in rows] == [
        ("1", "For the record?", ""),
        ("2", "Recorded.", "1"),
    ]
    response = client.get(url("chat_export", room, format="txt"))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"] == 'attachment; filename="probation-tech-chat.txt"'
    text = b"".join(response.streaming_content).decode()
    assert "#1 Ana Lima: For the record?" in text
    assert "#2 Ben Okafor" in text and "Recorded." in text
    # Members of the archived group still cannot export it.
    client.force_login(room["ana"])
    assert client.get(url("chat_export", room)).status_code == HTTPStatus.FORBIDDEN
