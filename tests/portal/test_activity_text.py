"""Activity texts are rendered when shown, in the reader's language, from ids and facts."""

import ast
from datetime import date
from http import HTTPStatus
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import trans_real

from accounts import personal_data
from accounts.models import User
from groups import services as group_services
from groups.models import Membership
from meetings import services as meeting_services
from portal.activity_text import (
    MESSAGES,
    activity_message,
    activity_people_load,
    activity_text,
)
from portal.models import Activity
from portal.services import activity_record
from tests.conftest import make_secretariat
from tests.documents.factories import add_version, upload_document
from tests.factories import PASSWORD, UserFactory
from tests.groups.factories import coordinator_of, make_group
from tests.helpers import assert_queries_do_not_grow, count_queries
from tests.meetings.factories import frozen, make_meeting, make_poll

pytestmark = pytest.mark.django_db

APPS = ("accounts", "groups", "documents", "meetings", "portal")
ALWAYS_THERE = {"actor", "group"}


# --- The registry against the code that records -------------------------------


def _strings(node: ast.expr, where: str) -> list[str]:
    """The verbs a ``verb=`` argument can take: literals, or a choice between literals."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, where) + _strings(node.orelse, where)
    raise AssertionError(f"{where}: write the verb as a string literal")


def _recorded() -> list[tuple[str, str, set[str]]]:
    """Every ``activity_record(...)`` of the apps: (where, verb, keys of its data)."""
    root = Path(settings.BASE_DIR)
    found = []
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name != "activity_record":
                    continue
                where = f"{path.relative_to(root)}:{node.lineno}"
                args = {kw.arg: kw.value for kw in node.keywords}
                data = args.get("data")
                if data is None:
                    keys = set()
                else:
                    assert isinstance(data, ast.Dict), f"{where}: pass data as a dict literal"
                    keys = {k.value for k in data.keys if isinstance(k, ast.Constant)}
                for verb in _strings(args["verb"], where):
                    found.append((where, verb, keys))
    return found


class _Keys(dict):
    """Answers every placeholder with ``value`` and remembers which were asked for."""

    def __init__(self, value):
        super().__init__()
        self.value, self.asked = value, set()

    def __missing__(self, key):
        self.asked.add(key)
        return self.value


def _placeholders(text) -> set[str]:
    asked = set()
    with translation.override("en"):
        for value in (1, 2):  # singular and plural forms
            keys = _Keys(value)
            text % keys
            asked |= keys.asked
    return asked


def test_the_scan_finds_the_recorded_activities():
    verbs = {verb for _where, verb, _keys in _recorded()}
    assert len(verbs) >= 40
    assert {"membership.requested", "mandate.extension_refused", "archive.damaged"} <= verbs


def test_every_verb_recorded_in_the_code_has_a_message_and_no_message_is_orphaned():
    verbs = {verb for _where, verb, _keys in _recorded()}
    assert sorted(verbs - MESSAGES.keys()) == [], "verbs without a message in portal.activity_text"
    assert sorted(MESSAGES.keys() - verbs) == [], "messages for verbs nothing records"


def test_every_call_passes_the_facts_its_message_needs():
    missing = []
    for where, verb, keys in _recorded():
        message = MESSAGES[verb]
        needed = {key for key, _value, _text in message.variants}
        for text in message.texts():
            needed |= _placeholders(text) - ALWAYS_THERE
        if needed - keys:
            missing.append(f"{where} {verb}: {sorted(needed - keys)}")
    assert missing == []


# --- Rendering ----------------------------------------------------------------


@pytest.fixture
def group():
    return make_group(name="Electronic monitoring", slug="em")


@pytest.fixture
def expert():
    return UserFactory(full_name="Ana Lima", email="ana@example.org")


def _joined(group, expert):
    membership = group_services.membership_request(
        actor=expert, group=group, motivation="I run the tagging programme in Porto."
    )
    group_services.membership_approve(actor=coordinator_of(group), membership=membership)


def _row(verb, **filters) -> Activity:
    return Activity.objects.filter(verb=verb, **filters).latest("pk")


def test_the_text_comes_from_the_registry_and_names_people_as_they_are_now(group, expert):
    _joined(group, expert)
    Activity.objects.filter(verb="membership.requested").update(summary="stale")
    assert activity_text(_row("membership.requested")) == "Ana Lima asked to join"
    User.objects.filter(pk=expert.pk).update(full_name="Ana Lima Sousa")
    assert activity_text(_row("membership.requested")) == "Ana Lima Sousa asked to join"
    assert activity_text(_row("membership.joined")) == "Ana Lima Sousa joined"


def test_the_message_is_looked_up_in_the_readers_catalog(group, expert):
    group_services.membership_request(actor=expert, group=group, motivation="Porto programme.")
    row = _row("membership.requested")
    with translation.override("fr"):
        assert activity_text(row) == "Ana Lima a demandé à rejoindre le groupe"
    with translation.override("de"):
        assert activity_text(row) == "Ana Lima hat den Beitritt angefragt"
    with translation.override("en"):
        assert activity_text(row) == "Ana Lima asked to join"


def test_a_translation_with_a_broken_placeholder_shows_the_summary(group, expert, monkeypatch):
    group_services.membership_request(actor=expert, group=group, motivation="Porto programme.")
    row = _row("membership.requested")
    german = trans_real.translation("de")
    gettext = german.gettext
    broken = {"%(member)s asked to join": "%(mitglied)s möchte beitreten"}
    monkeypatch.setattr(german, "gettext", lambda msgid: broken.get(msgid) or gettext(msgid))
    with translation.override("de"):
        assert activity_text(row) == row.summary == "Ana Lima asked to join"


def test_a_meeting_time_is_shown_in_the_readers_language_and_zone(group):
    with frozen():  # Monday 1 March 2027, 09:00 in Brussels; the meeting is a week later
        meeting = make_meeting(group, title="Spring plenary")
    row = _row("meeting.scheduled")
    assert row.summary == "Meeting “Spring plenary” scheduled for 2027-03-08 08:00 UTC"
    with translation.override("de"), timezone.override(ZoneInfo("Europe/Berlin")):
        assert activity_text(row) == "Sitzung „Spring plenary“ für den 8. März 2027 09:00 geplant"
    with translation.override("fr"), timezone.override(ZoneInfo("Europe/Lisbon")):
        assert activity_text(row) == (
            "Réunion «\xa0Spring plenary\xa0» programmée pour le 8 mars 2027 08:00"
        )
    with frozen():
        meeting_services.meeting_update(
            actor=coordinator_of(group),
            meeting=meeting,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
            place="Room 4, Brussels",
        )
    assert activity_text(_row("meeting.updated")) == "Meeting “Spring plenary” changed: place"


def test_plural_forms_follow_the_number(group):
    with frozen():
        make_poll(group, title="One date", slots=[_slot(10)])
        make_poll(group, title="Three dates")
    assert activity_text(_row("poll.created", data__title="One date")) == (
        "Date poll “One date” opened with 1 slot"
    )
    assert activity_text(_row("poll.created", data__title="Three dates")) == (
        "Date poll “Three dates” opened with 3 slots"
    )


def _slot(day):
    from tests.meetings.factories import local

    return (local(2027, 3, day, 10), local(2027, 3, day, 12))


def test_documents_and_a_closed_group_read_from_their_facts(group):
    coordinator = coordinator_of(group)
    document = upload_document(group, coordinator, name="Handbook.pdf", title="Handbook")
    add_version(document, coordinator)
    assert activity_text(_row("document.uploaded")) == "Document “Handbook” uploaded"
    assert activity_text(_row("document.version_added")) == "Version 2 of “Handbook” uploaded"

    later = make_group(start=date(2026, 1, 10))
    staff = make_secretariat(UserFactory())
    with time_machine.travel(date(2027, 10, 1)):
        request = group_services.extension_request(
            actor=coordinator_of(later), group=later, justification="A second study to finish."
        )
        group_services.extension_decide(actor=staff, request=request, approve=True)
    with time_machine.travel(date(2027, 11, 15)):
        group_services.group_close(
            actor=staff,
            group=type(later).objects.get(pk=later.pk),
            reason="Funding has stopped.",
        )
    closed = _row("group.closed")
    assert activity_text(closed) == (
        "Group closed early: term 1 ends on Nov. 15, 2027; "
        "term 2 (Jan. 10, 2028 – Jan. 10, 2030) cancelled"
    )
    assert activity_text(_row("mandate.extension_approved")) == "Extension approved"


def test_a_deleted_account_is_named_former_member(group, expert, client):
    _joined(group, expert)
    personal_data.account_delete(actor=expert, user=expert, password=PASSWORD)
    # Even a summary that still spelled the name out would not show it.
    Activity.objects.filter(verb="membership.requested").update(summary="Ana Lima asked to join")
    assert activity_text(_row("membership.requested")) == "Former member asked to join"
    assert activity_text(_row("membership.joined")) == "Former member joined"

    client.force_login(coordinator_of(group))
    page = client.get(reverse("groups:activity", args=[group.slug])).content.decode()
    assert "Former member asked to join" in page
    assert "Ana Lima" not in page and "ana@example.org" not in page


def test_an_invited_address_is_forgotten_with_the_account_it_later_belongs_to(group):
    group_services.invitation_create(
        actor=coordinator_of(group), group=group, email="Later@Example.org"
    )
    assert activity_text(_row("membership.invited")) == "later@example.org invited"
    known = UserFactory(full_name="Kai Berg")
    group_services.invitation_create(actor=coordinator_of(group), group=group, email=known.email)
    assert activity_text(_row("membership.invited", data__member=known.pk)) == "Kai Berg invited"

    later = UserFactory(email="later@example.org")
    personal_data.account_delete(actor=later, user=later, password=PASSWORD)
    row = _row("membership.invited", data__member=later.pk)
    assert row.data["email"] is None and "later@example.org" not in row.summary
    assert activity_text(row) == "Former member invited"


def test_unknown_verbs_and_rows_without_the_facts_show_their_summary(group):
    legacy = activity_record(actor=None, verb="legacy.thing", group=group, summary="Old text")
    before = activity_record(
        actor=None,
        verb="meeting.scheduled",
        group=group,
        summary="Meeting “Old” scheduled for 2024-01-01 10:00 UTC",
        data={"meeting": 1},
    )
    no_variant_key = activity_record(
        actor=None, verb="membership.joined", group=group, summary="Someone joined", data={}
    )
    for row in (legacy, before, no_variant_key):
        assert activity_message(row) is None
        assert activity_text(row) == row.summary


def test_people_of_a_page_are_looked_up_in_one_query(group):
    for n in range(4):
        _joined(group, UserFactory(full_name=f"Expert {n}"))
    rows = list(Activity.objects.filter(group=group).select_related("actor", "group"))

    def render():
        for row in activity_people_load(rows):
            activity_text(row)

    assert count_queries(render) == 1


def test_a_groups_rows_read_without_the_group_join_say_the_same_with_the_group_given(group):
    from portal.selectors import activities

    for n in range(3):
        _joined(group, UserFactory(full_name=f"Expert {n}"))
    other = make_group(slug="another-one")
    _joined(other, UserFactory())
    joined = [activity_text(r) for r in activity_people_load(activities(group=group))]
    bare = activities(group=group, with_group=False)
    assert "groups_expertgroup" not in str(bare.query)
    rows = activity_people_load(bare, group=group)
    with_group_text = count_queries(lambda: [activity_text(r) for r in rows])
    assert with_group_text == 0  # the group is the one given, not read again per row
    assert [activity_text(r) for r in rows] == joined
    assert all(r.group is group for r in rows)
    assert len(rows) == len(joined) > 0


# --- Pages --------------------------------------------------------------------


def test_the_group_timelines_cost_the_same_queries_however_many_people(client, group):
    client.force_login(coordinator_of(group))

    def grow():
        for _ in range(3):
            _joined(group, UserFactory())

    grow()
    for name in ("groups:detail", "groups:activity"):
        assert_queries_do_not_grow(lambda name=name: client.get(reverse(name, args=["em"])), grow)


def test_the_audit_log_costs_the_same_queries_however_many_people(client, group):
    client.force_login(make_secretariat(UserFactory()))

    def grow():
        for _ in range(3):
            _joined(group, UserFactory())

    grow()
    assert_queries_do_not_grow(lambda: client.get(reverse("groups:audit")), grow)


def test_the_audit_log_and_its_csv_speak_the_readers_language(client, group, monkeypatch):
    with frozen():
        make_meeting(group, title="Spring plenary")
    staff = make_secretariat(UserFactory(language="de", timezone="Europe/Berlin"))
    client.force_login(staff)
    response = client.get(reverse("groups:audit"))
    assert response.status_code == HTTPStatus.OK
    assert "Sitzung „Spring plenary“ für den 8. März 2027 09:00 geplant" in response.text

    response = client.get(reverse("groups:audit"), {"format": "csv"})
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "when_utc,group,actor,action,summary,text"
    (scheduled,) = [line for line in lines if "meeting.scheduled" in line]
    assert scheduled.endswith(
        "Meeting “Spring plenary” scheduled for 2027-03-08 08:00 UTC,"
        "Sitzung „Spring plenary“ für den 8. März 2027 09:00 geplant"
    )


def test_the_role_change_names_the_new_role(group, expert):
    _joined(group, expert)
    membership = Membership.objects.get(user=expert, group=group, state="active")
    group_services.membership_set_role(
        actor=coordinator_of(group), membership=membership, role="coordinator"
    )
    assert activity_text(_row("membership.role_changed")) == "Ana Lima is now a coordinator"
