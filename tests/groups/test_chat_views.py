"""The chat's HTTP side: the room page, history JSON, the form fallback, exports, unread badges."""

import csv
import io
import json
import re
from http import HTTPStatus
from unittest import mock

import pytest
from django.urls import reverse

from groups import chat
from groups.models import ChatMessage
from groups.services import group_archive, group_close
from tests.conftest import make_secretariat
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
    assert 'aria-label="2 unread chat messages">2</span>' in dashboard  # the navigation total
    client.get(url("chat", room))
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "unread chat message" not in dashboard


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
