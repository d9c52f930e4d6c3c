"""The secretariat's CSV exports: groups, mandates, memberships."""

import csv
import io
import warnings
from datetime import date, datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.conf import settings
from django.test import AsyncClient
from django.urls import reverse

from groups import exports, services
from groups.models import ExpertGroup, Membership
from portal import csvexport
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, make_group
from tests.helpers import count_queries

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
EXPORTS = ["groups:export_groups", "groups:export_mandates", "groups:export_memberships"]


def at(year, month, day, hour=10):
    """Freeze the clock at a wall-clock time in Brussels."""
    return time_machine.travel(datetime(year, month, day, hour, tzinfo=BRUSSELS), tick=False)


def download(response) -> bytes:
    assert response.status_code == HTTPStatus.OK
    assert response.streaming
    return b"".join(response.streaming_content)


def parse(raw: bytes) -> list[dict]:
    assert raw.startswith(b"\xef\xbb\xbf"), "the file starts with a UTF-8 byte order mark"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def join(group, user, coordinator):
    """Ask to join, and the coordinator approves: the real path into a group."""
    membership = services.membership_request(
        actor=user, group=group, motivation="I work on this topic every day."
    )
    return services.membership_approve(actor=coordinator, membership=membership)


@pytest.fixture
def history(db):
    """Two years of two groups: one extended, one refused its extension, closed and archived."""
    staff = make_secretariat(UserFactory(full_name="Sam Secretariat", email="sam@example.org"))
    chloe = UserFactory(full_name="Chloé Dupont", email="chloe@example.org", country="FR")
    zoe = UserFactory(full_name="Zoë Ångström", email="zoe@example.org", country="SE")
    emile = UserFactory(full_name="Émile Roux", email="emile@example.org", country="")
    bjorn = UserFactory(full_name="Bjørn Berg", email="bjorn@example.org", country="")
    with at(2024, 2, 1):
        reinsertion = make_group(
            name="Réinsertion et probation",
            slug="reinsertion",
            start=date(2024, 2, 1),
            coordinators=[chloe],
            actor=staff,
        )
        network = make_group(
            name="Foreign nationals network",
            slug="foreign-nationals",
            kind="network",
            standing=True,
            start=date(2024, 2, 1),
            coordinators=[bjorn],
            actor=staff,
        )
    with at(2024, 3, 4):
        join(reinsertion, zoe, chloe)
        request = services.membership_request(
            actor=emile, group=reinsertion, motivation="Please let me take part."
        )
        services.membership_decline(actor=chloe, membership=request, reason="Group is full.")
    with at(2025, 10, 1):
        refused = services.extension_request(
            actor=bjorn, group=network, justification="We would like two more years, please."
        )
        services.extension_decide(
            actor=staff, request=refused, approve=False, reason="The work is complete."
        )
    with at(2025, 11, 3):
        approved = services.extension_request(
            actor=chloe,
            group=reinsertion,
            justification="The new guidelines need another two years of work.",
        )
    with at(2025, 11, 10):
        services.extension_decide(actor=staff, request=approved, approve=True)
        services.group_close(actor=staff, group=network, reason="Work finished early.")
        services.group_archive(actor=staff, group=ExpertGroup.objects.get(pk=network.pk))
    with at(2025, 12, 1):
        services.membership_leave(actor=zoe, group=reinsertion)
    return {"staff": staff, "reinsertion": reinsertion, "network": network}


@pytest.fixture
def staff_client(client, history):
    client.force_login(history["staff"])
    return client


def test_groups_export_lists_every_group_with_its_state_and_terms(staff_client):
    with at(2026, 3, 2):
        response = staff_client.get(reverse("groups:export_groups"))
        rows = parse(download(response))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="groups-2026-03-02.csv"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert list(rows[0]) == list(exports.GROUP_COLUMNS)
    assert [r["slug"] for r in rows] == ["foreign-nationals", "reinsertion"]
    network, reinsertion = rows
    assert reinsertion == {
        "name": "Réinsertion et probation",
        "slug": "reinsertion",
        "kind": "expert_group",
        "state": "extended",
        "standing_membership": "no",
        "current_term": "2",
        "current_term_start": "2026-02-01",
        "current_term_end": "2028-02-01",
        "mandate_start": "2024-02-01",
        "mandate_end": "2028-02-01",
        "terms": "2",
        "active_members": "1",  # Zoë left; Émile was declined
        "created_at_utc": "2024-02-01 09:00:00",
        "closed_at_utc": "",
        "close_reason": "",
        "archived_at_utc": "",
        "archived_by": "",
    }
    assert network == {
        "name": "Foreign nationals network",
        "slug": "foreign-nationals",
        "kind": "network",
        "state": "archived",
        "standing_membership": "yes",
        "current_term": "",
        "current_term_start": "",
        "current_term_end": "",
        "mandate_start": "2024-02-01",
        "mandate_end": "2025-11-10",  # closed early: the term ended that day
        "terms": "1",
        "active_members": "1",
        "created_at_utc": "2024-02-01 09:00:00",
        "closed_at_utc": "2025-11-10 09:00:00",
        "close_reason": "Work finished early.",
        "archived_at_utc": "2025-11-10 09:00:00",
        "archived_by": "Sam Secretariat",
    }


def test_mandates_export_has_each_term_with_its_extension_decisions(staff_client):
    with at(2026, 3, 2):
        response = staff_client.get(reverse("groups:export_mandates"))
        rows = parse(download(response))
    assert response["Content-Disposition"] == 'attachment; filename="mandates-2026-03-02.csv"'
    assert list(rows[0]) == list(exports.MANDATE_COLUMNS)
    assert [(r["group_slug"], r["term"]) for r in rows] == [
        ("foreign-nationals", "1"),
        ("reinsertion", "1"),
        ("reinsertion", "2"),
    ]
    network, term1, term2 = rows
    assert network == {
        "group": "Foreign nationals network",
        "group_slug": "foreign-nationals",
        "term": "1",
        "start": "2024-02-01",
        "end": "2025-11-10",
        "status": "ended",
        "extension_state": "refused",
        "extension_requested_by": "Bjørn Berg",
        "extension_requested_at_utc": "2025-10-01 08:00:00",  # 10:00 in Brussels, summer time
        "extension_justification": "We would like two more years, please.",
        "extension_decided_by": "Sam Secretariat",
        "extension_decided_at_utc": "2025-10-01 08:00:00",
        "extension_decision_reason": "The work is complete.",
    }
    assert term1 == {
        "group": "Réinsertion et probation",
        "group_slug": "reinsertion",
        "term": "1",
        "start": "2024-02-01",
        "end": "2026-02-01",
        "status": "ended",
        "extension_state": "approved",
        "extension_requested_by": "Chloé Dupont",
        "extension_requested_at_utc": "2025-11-03 09:00:00",
        "extension_justification": "The new guidelines need another two years of work.",
        "extension_decided_by": "Sam Secretariat",
        "extension_decided_at_utc": "2025-11-10 09:00:00",
        "extension_decision_reason": "",
    }
    assert term2["start"] == "2026-02-01" and term2["end"] == "2028-02-01"
    assert term2["status"] == "in_force"
    assert term2["extension_state"] == term2["extension_requested_by"] == ""


def test_memberships_export_keeps_the_whole_history(staff_client):
    with at(2026, 3, 2):
        response = staff_client.get(reverse("groups:export_memberships"))
        rows = parse(download(response))
    assert response["Content-Disposition"] == 'attachment; filename="memberships-2026-03-02.csv"'
    assert list(rows[0]) == list(exports.MEMBERSHIP_COLUMNS)
    assert [r["group_slug"] for r in rows] == ["foreign-nationals"] + ["reinsertion"] * 3
    by_email = {(r["group_slug"], r["email"]): r for r in rows}
    assert by_email["reinsertion", "zoe@example.org"] == {
        "group": "Réinsertion et probation",
        "group_slug": "reinsertion",
        "member": "Zoë Ångström",
        "email": "zoe@example.org",
        "country": "SE",
        "country_name": "Sweden",
        "role": "member",
        "state": "left",
        "created_at_utc": "2024-03-04 09:00:00",
        "started_at_utc": "2024-03-04 09:00:00",
        "ended_at_utc": "2025-12-01 09:00:00",
        "end_reason": "left",
    }
    chloe = by_email["reinsertion", "chloe@example.org"]
    assert (chloe["role"], chloe["state"], chloe["country_name"]) == (
        "coordinator",
        "active",
        "France",
    )
    assert chloe["started_at_utc"] == "2024-02-01 09:00:00" and chloe["ended_at_utc"] == ""
    emile = by_email["reinsertion", "emile@example.org"]
    assert (emile["state"], emile["started_at_utc"], emile["country"]) == ("declined", "", "")
    assert emile["ended_at_utc"] == "2024-03-04 09:00:00"
    bjorn = by_email["foreign-nationals", "bjorn@example.org"]
    assert (bjorn["member"], bjorn["role"], bjorn["state"]) == (
        "Bjørn Berg",
        "coordinator",
        "active",
    )


def test_country_names_are_in_the_language_of_the_person_downloading(client, history):
    staff = history["staff"]
    staff.language = "fr"
    staff.save()
    client.force_login(staff)
    rows = parse(download(client.get(reverse("groups:export_memberships"))))
    names = {r["email"]: r["country_name"] for r in rows}
    assert names["zoe@example.org"] == "Suède"
    assert names["chloe@example.org"] == "France"


def test_the_file_opens_with_accents_intact_in_a_spreadsheet(staff_client):
    raw = download(staff_client.get(reverse("groups:export_memberships")))
    assert raw[:3] == b"\xef\xbb\xbf"
    assert "Zoë Ångström".encode() in raw and "Réinsertion".encode() in raw
    assert raw.count(b"\xef\xbb\xbf") == 1
    assert b"\r\n" in raw  # csv's default dialect: what Excel expects


def test_text_that_looks_like_a_formula_is_not_run(staff_client, history):
    add_member(history["reinsertion"], UserFactory(full_name='=HYPERLINK("http://evil")'))
    rows = parse(download(staff_client.get(reverse("groups:export_memberships"))))
    names = {r["member"] for r in rows}
    assert '\'=HYPERLINK("http://evil")' in names
    assert '=HYPERLINK("http://evil")' not in names


@pytest.mark.parametrize("name", EXPORTS)
def test_an_export_needs_a_constant_number_of_queries(client, name):
    staff = make_secretariat(UserFactory())
    client.force_login(staff)

    def add_groups(n):
        for _ in range(n):
            group = make_group(actor=staff)
            add_member(group)
            services.extension_request(
                actor=Membership.objects.get(group=group, role="coordinator").user,
                group=group,
                justification="Two more years are needed for this work.",
            )

    def fetch():
        download(client.get(reverse(name)))

    add_groups(3)
    fetch()  # warm the session and content type caches
    few = count_queries(fetch)
    add_groups(27)
    assert ExpertGroup.objects.count() == 30
    assert count_queries(fetch) == few


@pytest.mark.parametrize("name", EXPORTS)
def test_an_export_is_streamed_in_batches_under_asgi(history, name, monkeypatch):
    monkeypatch.setattr(csvexport, "ASYNC_BATCH", 2)
    client = AsyncClient()
    client.force_login(history["staff"])

    async def fetch():
        response = await client.get(reverse(name))
        return response, [chunk async for chunk in response.streaming_content]

    with warnings.catch_warnings():
        # Django warns when it has to read a synchronous iterator whole under ASGI.
        warnings.simplefilter("error")
        response, chunks = async_to_sync(fetch)()
    assert response.status_code == HTTPStatus.OK
    assert response.is_async
    assert len(chunks) > 1
    rows = parse(b"".join(chunks))
    assert len(rows) >= 2


# --- Who may download ----------------------------------------------------


@pytest.mark.parametrize("name", EXPORTS)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.parametrize("name", EXPORTS)
@pytest.mark.parametrize("who", ["member", "coordinator"])
def test_members_and_coordinators_cannot_download(client, history, name, who):
    group = history["reinsertion"]
    role = Membership.Role.COORDINATOR if who == "coordinator" else Membership.Role.MEMBER
    client.force_login(add_member(group, role=role))
    assert client.get(reverse(name)).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize("name", EXPORTS)
def test_secretariat_without_two_factor_is_sent_to_enrol(client, name):
    client.force_login(make_secretariat(UserFactory(), with_mfa=False))
    response = client.get(reverse(name))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize("name", EXPORTS)
def test_secretariat_with_two_factor_downloads(secretariat_client, name):
    response = secretariat_client.get(reverse(name))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"].startswith('attachment; filename="')
    assert parse(download(response)) == []


@pytest.mark.parametrize("name", EXPORTS)
def test_an_export_answers_only_get(secretariat_client, name):
    assert secretariat_client.post(reverse(name)).status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_the_dashboard_links_to_every_export(secretariat_client):
    html = secretariat_client.get(reverse("groups:secretariat_dashboard")).content.decode()
    for name in [*EXPORTS, "secretariat_overview", "secretariat_overview_csv"]:
        assert f'href="{reverse(name)}"' in html
