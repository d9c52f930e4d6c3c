"""Who may open what: every route of the portal against six personas, in one table.

Each cell is the answer the product must give; the test fails on any other. The
personas, around one group (``target``):

- ``anonymous``: not signed in;
- ``outsider``: signed in, a member of no group;
- ``other_member``: a member of another group (``elsewhere``);
- ``member`` and ``coordinator`` of ``target``;
- ``secretariat``: staff in the Secretariat group, with a TOTP authenticator.
  (Staff without one are sent to set it up first:
  tests/accounts/test_admin_and_secretariat.py.)

``TABLE`` has a row per URL name (``tests/urlwalk.py`` enumerates them) and
``SOCKETS`` a row per WebSocket route (``portal/routing.py``), plus variants of a
route for a room that is missing or archived. The completeness tests fail when a
route has no row or a row names no route. To add a route: add its row with the
method and the six answers (in ``PERSONAS`` order), naming in the row which world
object each URL argument takes; data a POST needs goes in ``POSTED``.

The world is built once for the module, inside a transaction rolled back at the
end; each cell runs in a savepoint of its own (as Django's ``setUpTestData``), so
a write by one cell is gone before the next.
"""

import re
from collections.abc import Callable
from datetime import timedelta
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, reverse

from groups import realtime
from tests.urlwalk import all_routes

pytestmark = pytest.mark.django_db

PERSONAS = ("anonymous", "outsider", "other_member", "member", "coordinator", "secretariat")


# --- Answers -------------------------------------------------------------------------


class Redirect(NamedTuple):
    """A redirect to the page of this route name (the path, whatever the query)."""

    to: str

    def __repr__(self) -> str:
        return f"redirect to {self.to}"


class Closed(NamedTuple):
    """A WebSocket closed at the handshake with this code."""

    code: int

    def __repr__(self) -> str:
        return f"closed with {self.code}"


OK = HTTPStatus.OK
REDIRECT = HTTPStatus.FOUND  # a redirect anywhere (back to a page, with a message)
BAD = HTTPStatus.BAD_REQUEST
FORBID = HTTPStatus.FORBIDDEN
NF = HTTPStatus.NOT_FOUND
LOGIN = Redirect("account_login")
ADMIN_LOGIN = Redirect("admin:login")
REAUTH = Redirect("account_reauthenticate")
DASHBOARD = Redirect("dashboard")

ACCEPTED = "accepted"
UNAUTHENTICATED = Closed(realtime.CLOSE_UNAUTHENTICATED)
NOT_A_MEMBER = Closed(realtime.CLOSE_FORBIDDEN)
ARCHIVED = Closed(realtime.CLOSE_ARCHIVED)


class Row(NamedTuple):
    method: str
    answers: tuple
    args: dict  # URL argument -> key in World.objects (``slug`` defaults to "slug")


def row(method: str, *answers, **args) -> Row:
    assert len(answers) == len(PERSONAS), f"{len(answers)} answers for {len(PERSONAS)} personas"
    return Row(method, answers, args)


def everyone(method: str, answer, **args) -> Row:
    return row(method, *[answer] * len(PERSONAS), **args)


def signed_in(method: str, answer, **args) -> Row:
    """Anonymous visitors are sent to sign in; every signed-in persona gets ``answer``."""
    return row(method, LOGIN, *[answer] * (len(PERSONAS) - 1), **args)


def secretariat_only(method: str, answer=OK, **args) -> Row:
    return row(method, LOGIN, FORBID, FORBID, FORBID, FORBID, answer, **args)


# --- The table -----------------------------------------------------------------------

# A group's pages answer 404 to whoever may not see the group, so that private content
# does not reveal that it exists; what a viewer may see but not do answers 403.
GROUPS = {
    "groups:public_detail": everyone("get", OK),
    "groups:detail": row("get", LOGIN, NF, NF, OK, OK, OK),
    "groups:members": row("get", LOGIN, NF, NF, OK, OK, OK),
    "groups:activity": row("get", LOGIN, NF, NF, OK, OK, OK),
    "groups:chat": row("get", LOGIN, NF, NF, OK, OK, OK),
    "groups:chat_history": row("get", LOGIN, NF, NF, OK, OK, OK),
    "groups:chat_export": secretariat_only("get"),
    # The target group's extension request is pending: its coordinator is sent back to
    # the group page with the reason (test_views covers the form and an expired group).
    "groups:extension_request": row("get", LOGIN, NF, NF, FORBID, REDIRECT, FORBID),
    "groups:edit": secretariat_only("get"),
    "groups:secretariat_dashboard": secretariat_only("get"),
    "groups:create": secretariat_only("get"),
    "groups:audit": secretariat_only("get"),
    "groups:export_groups": secretariat_only("get"),
    "groups:export_mandates": secretariat_only("get"),
    "groups:export_memberships": secretariat_only("get"),
    # Token-authenticated: the invitee may open it before signing in or up.
    "groups:invitation": everyone("get", OK, token="invitation"),
    # Writes: a non-member gets 404 (the group's private side does not exist for them).
    "groups:join": row("post", LOGIN, REDIRECT, REDIRECT, OK, OK, REDIRECT),
    "groups:leave": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, REDIRECT),
    "groups:confirm_term": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID),
    "groups:invite": row("post", LOGIN, NF, NF, NF, REDIRECT, REDIRECT),
    "groups:membership_action": row(
        "post", LOGIN, NF, NF, NF, REDIRECT, REDIRECT, pk="pending", action="approve"
    ),
    "groups:close": secretariat_only("post", REDIRECT),
    "groups:archive": secretariat_only("post", REDIRECT),
    "groups:appoint": secretariat_only("post", REDIRECT),
    # The secretariat reads every chat but writes only in groups it is a member of.
    "groups:chat_post": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID),
    "groups:extension_decide": secretariat_only("post", REDIRECT, pk="extension"),
    # Archive packages: the secretariat only (an active group has none: 404 for a package id).
    "groups:archive_package": secretariat_only("get"),
    "groups:archive_package_status": secretariat_only("get"),
    "groups:archive_package_download": secretariat_only("get", NF, pk="doc"),
    "groups:archive_package_rebuild": secretariat_only("post", REDIRECT),
    "groups:archive_package_check": secretariat_only("post", NF, pk="doc"),
}

# Reading stays open to members of expired and archived groups; changing needs
# ``groups.contribute``.
DOCUMENTS = {
    "documents:list": row("get", LOGIN, NF, NF, OK, OK, OK),
    # The secretariat sees every group but does not add to it: sent back with a message.
    "documents:upload": row("get", LOGIN, NF, NF, OK, OK, REDIRECT),
    "documents:folder_create": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID),
    "documents:bin_list": row("get", LOGIN, NF, NF, OK, OK, OK),
    "documents:zip": row("get", LOGIN, NF, NF, OK, OK, OK),
    "documents:detail": row("get", LOGIN, NF, NF, OK, OK, OK, pk="doc"),
    "documents:download": row("get", LOGIN, NF, NF, OK, OK, OK, pk="doc"),
    "documents:version_download": row("get", LOGIN, NF, NF, OK, OK, OK, pk="doc", number="one"),
    "documents:version_add": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID, pk="doc"),
    # The member uploaded "doc": the uploader or a coordinator bins and restores.
    "documents:bin": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID, pk="doc"),
    "documents:restore": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID, pk="binned"),
    "documents:purge": row("post", LOGIN, NF, NF, FORBID, FORBID, REDIRECT, pk="binned"),
}

MEETINGS = {
    "meetings:group_list": row("get", LOGIN, NF, NF, OK, OK, OK),
    "meetings:detail": row("get", LOGIN, NF, NF, OK, OK, OK, pk="upcoming"),
    "meetings:ics": row("get", LOGIN, NF, NF, OK, OK, OK, pk="upcoming"),
    "meetings:poll_detail": row("get", LOGIN, NF, NF, OK, OK, OK, pk="poll"),
    "meetings:schedule": row("get", LOGIN, NF, NF, FORBID, OK, OK),
    "meetings:edit": row("get", LOGIN, NF, NF, FORBID, OK, OK, pk="upcoming"),
    "meetings:cancel": row("get", LOGIN, NF, NF, FORBID, OK, OK, pk="upcoming"),
    # Attendance and minutes come after the start: the past meeting.
    "meetings:attendance": row("get", LOGIN, NF, NF, FORBID, OK, OK, pk="past"),
    "meetings:minutes": row("get", LOGIN, NF, NF, FORBID, OK, OK, pk="past"),
    "meetings:poll_create": row("get", LOGIN, NF, NF, FORBID, OK, OK),
    "meetings:answer": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID, pk="upcoming"),
    "meetings:poll_vote": row("post", LOGIN, NF, NF, REDIRECT, REDIRECT, FORBID, pk="poll"),
    "meetings:poll_close": row("post", LOGIN, NF, NF, FORBID, REDIRECT, REDIRECT, pk="poll"),
    "meetings:poll_cancel": row("post", LOGIN, NF, NF, FORBID, REDIRECT, REDIRECT, pk="poll"),
    "meetings:mine": signed_in("get", OK),
    "meetings:mine_past": signed_in("get", OK),
    "meetings:month": signed_in("get", OK),
    "meetings:feed_settings": signed_in("get", OK),
    "meetings:feed_regenerate": signed_in("post", Redirect("meetings:feed_settings")),
    # Token-authenticated: whoever holds the secret address gets the feed, signed in or not.
    "meetings:feed": everyone("get", OK, token="feed"),
}

PORTAL = {
    "home": everyone("get", OK),
    "health": everyone("get", OK),
    "language_switch": everyone("post", Redirect("home")),
    "dashboard": signed_in("get", OK),
    "notifications": signed_in("get", OK),
    "notifications_read": signed_in("post", Redirect("notifications")),
    # The member's notification, pointing at the dashboard: it does not exist for anyone else.
    "notification_open": row("get", LOGIN, NF, NF, DASHBOARD, NF, NF, pk="note"),
    "notification_settings": signed_in("get", OK),
    "secretariat_overview": secretariat_only("get"),
    "secretariat_overview_csv": secretariat_only("get"),
}

ACCOUNTS = {
    "accounts:profile": signed_in("get", OK),
    "accounts:profile_edit": signed_in("get", OK),
    "accounts:directory": signed_in("get", OK),
    # The member keeps their profile out of the directory: only they and the secretariat
    # see it (even their coordinator does not).
    "accounts:expert_detail": row("get", LOGIN, NF, NF, OK, NF, OK, pk="member"),
    "accounts:my_data": signed_in("get", OK),
    "accounts:my_data_export": signed_in("post", Redirect("accounts:my_data")),
    # The member's export: it does not exist for anyone else.
    "accounts:my_data_download": row("get", LOGIN, NF, NF, OK, NF, NF, pk="export"),
    # Deleting one's account needs the password: posted without it, the form says so.
    "accounts:account_delete": signed_in("post", BAD),
}

# django-allauth. The signed-in personas were signed in without a fresh password, so
# what changes a second factor asks for it again (REAUTH).
ALLAUTH = {
    "account_login": row("get", OK, *[DASHBOARD] * 5),
    "account_signup": row("get", OK, *[DASHBOARD] * 5),
    "account_logout": row("get", Redirect("home"), *[OK] * 5),
    "account_inactive": everyone("get", OK),
    "account_email_verification_sent": everyone("get", OK),
    # A wrong key: the page says the link is invalid.
    "account_confirm_email": everyone("get", OK, key="bad_key"),
    "account_reset_password": everyone("get", OK),
    "account_reset_password_done": everyone("get", OK),
    "account_reset_password_from_key": everyone("get", OK, uidb36="bad_uid", key="bad_key"),
    "account_reset_password_from_key_done": everyone("get", OK),
    # No login by code is under way.
    "account_confirm_login_code": signed_in("get", DASHBOARD),
    "account_email": signed_in("get", OK),
    "account_change_password": signed_in("get", OK),
    # Everyone has a password already: sent to change it instead.
    "account_set_password": signed_in("get", Redirect("account_change_password")),
    "account_reauthenticate": signed_in("get", OK),
    "account_request_reauthentication_code": signed_in("get", OK),
    "account_confirm_reauthentication_code": signed_in(
        "get", Redirect("account_request_reauthentication_code")
    ),
    "mfa_index": signed_in("get", OK),
    "mfa_activate_totp": signed_in("get", REAUTH),
    # Only the secretariat has a TOTP authenticator to deactivate.
    "mfa_deactivate_totp": row("get", LOGIN, NF, NF, NF, NF, REAUTH),
    # No login is waiting for a second factor.
    "mfa_authenticate": signed_in("get", DASHBOARD),
    # Who has no authenticator reauthenticates with the password.
    "mfa_reauthenticate": row("get", LOGIN, REAUTH, REAUTH, REAUTH, REAUTH, OK),
    "mfa_generate_recovery_codes": signed_in("get", REAUTH),
    # Nobody has generated recovery codes.
    "mfa_view_recovery_codes": signed_in("get", NF),
    "mfa_download_recovery_codes": signed_in("get", NF),
}

# The Django admin. Only active staff with a TOTP authenticator get in (accounts/rules.py);
# a signed-in non-staff persona is sent to the admin login, which refuses them (403).
ADMIN_SITE = {
    "admin:login": row("get", LOGIN, FORBID, FORBID, FORBID, FORBID, Redirect("admin:index")),
    "admin:logout": row("post", ADMIN_LOGIN, *[Redirect("admin:index")] * 4, OK),
    "admin:index": row("get", *[ADMIN_LOGIN] * 5, OK),
    "admin:app_list": row("get", *[ADMIN_LOGIN] * 5, OK, app_label="app_label"),
    "admin:jsi18n": row("get", *[ADMIN_LOGIN] * 5, OK),
    "admin:password_change": row("get", *[ADMIN_LOGIN] * 5, OK),
    "admin:password_change_done": row("get", *[ADMIN_LOGIN] * 5, OK),
    # Asked without a field to complete: refused.
    "admin:autocomplete": row("get", *[ADMIN_LOGIN] * 5, FORBID),
    # The target group's page.
    "admin:view_on_site": row(
        "get", *[ADMIN_LOGIN] * 5, REDIRECT, content_type_id="group_type", object_id="group"
    ),
    # The member's password: a superuser's business only, never the secretariat's
    # (whoever sets it can sign in as the member; test_admin_and_secretariat).
    "admin:auth_user_password_change": row("get", LOGIN, *[ADMIN_LOGIN] * 4, FORBID, id="member"),
}

#: Every admin model and what the secretariat may do with it: the Secretariat group's
#: permissions (accounts/migrations/0003_secretariat_group.py), narrowed by the model
#: admins (documents, meetings: read-mostly, changed through the portal's services).
SECRETARIAT_IN_ADMIN = {
    "account_emailaddress": {"view"},
    "accounts_expertisearea": {"view", "add", "change", "delete"},
    "accounts_user": {"view", "change"},
    "auth_group": set(),
    "documents_document": {"view", "change"},
    "documents_folder": {"view", "add", "change"},
    "documents_keyword": {"view", "add", "change", "delete"},
    "documents_restricteddownload": {"view"},
    "meetings_calendarfeed": {"view"},
    "meetings_datepoll": {"view", "change"},
    "meetings_meeting": {"view", "change"},
    "mfa_authenticator": set(),
}
#: Each model admin page and the permission it needs (a change page shows read-only
#: to who may only view).
ADMIN_VIEWS = {
    "changelist": "view",
    "change": "view",
    "history": "view",
    "add": "add",
    "delete": "delete",
}


def admin_model_rows() -> dict[str, Row]:
    """The model admin pages (GET): sign in, then staff only, then the model permission."""
    rows = {}
    for model, may in SECRETARIAT_IN_ADMIN.items():
        for view, needs in ADMIN_VIEWS.items():
            args = {} if view in ("changelist", "add") else {"object_id": f"admin:{model}"}
            secretariat = OK if needs in may else FORBID
            rows[f"admin:{model}_{view}"] = row(
                "get", LOGIN, *[ADMIN_LOGIN] * 4, secretariat, **args
            )
    return rows


TABLE: dict[str, Row] = {
    **GROUPS,
    **DOCUMENTS,
    **MEETINGS,
    **PORTAL,
    **ACCOUNTS,
    **ALLAUTH,
    **ADMIN_SITE,
    **admin_model_rows(),
}


#: Answers that keep an anonymous visitor out.
KEPT_OUT = {LOGIN, ADMIN_LOGIN, FORBID, NF, HTTPStatus.METHOD_NOT_ALLOWED}


def public_routes() -> set[str]:
    """The routes an anonymous visitor may use: the anonymous column, read back."""
    return {name for name, (_m, answers, _a) in TABLE.items() if answers[0] not in KEPT_OUT}


def _slot(world) -> int:
    from meetings.models import DatePoll

    return DatePoll.objects.get(pk=world.objects["poll"]).slots.order_by("pk").first().pk


def _pdf():
    from tests.documents import samples

    return samples.upload("v2.pdf", samples.PDF + b"%v2")


#: What a POST carries (and a GET's query), by route: enough to get past the form.
POSTED: dict[str, Callable] = {
    "groups:join": lambda w: {"motivation": "I would like to contribute to this group."},
    "documents:zip": lambda w: {"id": [w.objects["doc"]]},
    "documents:folder_create": lambda w: {"name": "New folder"},
    "documents:version_add": lambda w: {"files": _pdf()},
    "meetings:answer": lambda w: {"answer": "yes"},
    "meetings:poll_vote": lambda w: {f"slot-{_slot(w)}": "yes"},
    "meetings:poll_close": lambda w: {"slot": _slot(w)},
    "language_switch": lambda w: {"language": "fr", "next": "/"},
}


# WebSocket routes: (path arguments, the room's state) and the six answers. The secretariat
# reads every room (and may remove messages) but writes only where it is a member: what
# each persona may do once connected is tests/groups/test_chat_consumer.py's.
class SocketRow(NamedTuple):
    route: str
    slug: str
    answers: tuple
    archived: bool = False


SOCKETS = {
    "ws:chat": SocketRow(
        "chat",
        "target",
        (UNAUTHENTICATED, NOT_A_MEMBER, NOT_A_MEMBER, ACCEPTED, ACCEPTED, ACCEPTED),
    ),
    "ws:chat[missing]": SocketRow("chat", "no-such-group", (UNAUTHENTICATED, *[NOT_A_MEMBER] * 5)),
    # Read-only for everyone, and live no more: its history is on the chat page.
    "ws:chat[archived]": SocketRow(
        "chat",
        "target",
        (UNAUTHENTICATED, NOT_A_MEMBER, NOT_A_MEMBER, ARCHIVED, ARCHIVED, ARCHIVED),
        archived=True,
    ),
}


# --- The world -----------------------------------------------------------------------


class World(NamedTuple):
    users: dict  # persona -> user (None for anonymous)
    objects: dict  # what URL arguments take, by key


def build_world(clock) -> World:
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from django.contrib.auth.models import Group
    from django.contrib.contenttypes.models import ContentType

    from accounts import personal_data
    from accounts.models import ExpertiseArea
    from documents import services as document_services
    from documents.models import Keyword, RestrictedDownload
    from groups.models import ExtensionRequest, Membership
    from groups.services import invitation_create
    from meetings import services as meeting_services
    from portal.models import Notification
    from tests.conftest import make_secretariat
    from tests.documents import samples
    from tests.documents.factories import upload_document
    from tests.factories import UserFactory
    from tests.groups.factories import add_member, coordinator_of, make_group
    from tests.meetings.factories import make_meeting, make_poll

    target = make_group(slug="target")
    other = make_group(slug="elsewhere")
    coordinator = coordinator_of(target)
    member = add_member(target, UserFactory(directory_visible=False))
    users = {
        "anonymous": None,
        "outsider": UserFactory(),
        "other_member": add_member(other),
        "member": member,
        "coordinator": coordinator,
        "secretariat": make_secretariat(UserFactory()),
    }
    pending = Membership.objects.create(
        user=UserFactory(), group=target, state="requested", motivation="Please let me join."
    )
    invitation = invitation_create(actor=coordinator, group=target, email="invitee@example.org")
    extension = ExtensionRequest.objects.create(
        group=target,
        mandate=target.mandates.get(),
        requested_by=coordinator,
        justification="A long enough justification for the test.",
    )
    doc = upload_document(target, member)
    binned = upload_document(target, member, name="old.txt", content=samples.TEXT)
    document_services.document_bin(actor=member, document=binned)
    folder = document_services.folder_create(actor=coordinator, group=target, name="Papers")
    past = make_meeting(target, title="Last week")
    clock.move_to(past.ends_at + timedelta(hours=1))
    upcoming = make_meeting(target, title="Next week")
    poll = make_poll(target)
    feed = meeting_services.calendar_feed_of(user=member)
    note = Notification.objects.create(
        user=member, category="documents", title="A new document", url=reverse("dashboard")
    )
    export = personal_data.personal_export_request(actor=member)
    personal_data.personal_export_build(export_id=export.pk)
    admin_objects = {
        "account_emailaddress": EmailAddress.objects.get(user=member),
        "accounts_expertisearea": ExpertiseArea.objects.create(name="Data", slug="data"),
        "accounts_user": member,
        "auth_group": Group.objects.get(name=settings.SECRETARIAT_GROUP),
        "documents_document": doc,
        "documents_folder": folder,
        "documents_keyword": Keyword.objects.create(name="recidivism"),
        "documents_restricteddownload": RestrictedDownload.objects.create(
            document=doc, version=doc.current_version, user=member
        ),
        "meetings_calendarfeed": feed,
        "meetings_datepoll": poll,
        "meetings_meeting": upcoming,
        "mfa_authenticator": Authenticator.objects.get(user=users["secretariat"]),
    }
    objects = {
        "slug": target.slug,
        "group": target.pk,
        "group_type": ContentType.objects.get_for_model(target).pk,
        "pending": pending.pk,
        "invitation": invitation.token,
        "extension": extension.pk,
        "doc": doc.pk,
        "one": 1,
        "binned": binned.pk,
        "past": past.pk,
        "upcoming": upcoming.pk,
        "poll": poll.pk,
        "feed": feed.token,
        "member": member.pk,
        "export": export.pk,
        "note": note.pk,
        "approve": "approve",
        "app_label": "accounts",
        "bad_uid": "1",
        "bad_key": "1-x",
        **{f"admin:{model}": obj.pk for model, obj in admin_objects.items()},
    }
    return World(users=users, objects=objects)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """The world of every cell: built once, rolled back after the module."""
    from tests.meetings.factories import frozen

    storages = settings.STORAGES
    if storages["default"]["BACKEND"].endswith("FileSystemStorage"):
        location = tmp_path_factory.mktemp("files")
        storages = {
            **storages,
            "default": {**storages["default"], "OPTIONS": {"location": location, "base_url": None}},
        }
    with django_db_blocker.unblock(), override_settings(STORAGES=storages), frozen() as clock:
        atomic = transaction.atomic()
        atomic._from_testcase = True  # as Django's own class-wide atomic blocks
        atomic.__enter__()
        try:
            yield build_world(clock)
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _media_in_tmp():
    """Replaces the per-test storage of tests/conftest.py: the world's files are the
    module's (see ``world``)."""


# --- Completeness --------------------------------------------------------------------


def socket_routes(patterns=None, namespace="") -> dict[str, str]:
    """WebSocket route name -> path pattern, from portal/routing.py."""
    from portal.routing import websocket_urlpatterns

    found = {}
    for entry in websocket_urlpatterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            found |= socket_routes(entry.url_patterns, f"{namespace}{entry.pattern}")
        elif isinstance(entry, URLPattern):
            assert entry.name, f"a WebSocket route without a name: {entry.pattern}"
            found[entry.name] = f"{namespace}{entry.pattern}"
    return found


def test_every_url_has_a_row_and_every_row_a_url():
    names = {route.name for route in all_routes()}
    untested, stale = sorted(names - set(TABLE)), sorted(set(TABLE) - names)
    assert not untested and not stale, f"routes without a row: {untested}; stale rows: {stale}"


def test_every_socket_route_has_a_row_and_every_row_a_route():
    names = set(socket_routes())
    covered = {row.route for row in SOCKETS.values()}
    assert names == covered, f"without a row: {names - covered}; stale: {covered - names}"
    assert all(
        name == f"ws:{row.route}" or name.startswith(f"ws:{row.route}[")
        for name, row in SOCKETS.items()
    )


def test_every_url_argument_has_a_value():
    """A row names a world object for each argument of its route (``slug`` has a default)."""
    for route in all_routes():
        if route.name not in TABLE:
            continue  # the test above fails
        args = TABLE[route.name].args
        assert set(args) <= set(route.kwargs_names), route.name
        missing = set(route.kwargs_names) - set(args) - {"slug"}
        assert not missing, f"{route.name} names no world object for {missing}"


# --- The cells -----------------------------------------------------------------------


def url_for(name: str, world: World) -> str:
    route = next(r for r in all_routes() if r.name == name)
    args = {"slug": "slug", **TABLE[name].args}
    return reverse(name, kwargs={arg: world.objects[args[arg]] for arg in route.kwargs_names})


def answer_matches(response, want) -> bool:
    if isinstance(want, Redirect):
        return response.status_code == HTTPStatus.FOUND and urlsplit(
            response["Location"]
        ).path == reverse(want.to)
    return response.status_code == want


def shown(want) -> str:
    return f"{want.value} {want.phrase}" if isinstance(want, HTTPStatus) else repr(want)


def answer_of(response) -> str:
    if response.status_code in (HTTPStatus.FOUND, HTTPStatus.MOVED_PERMANENTLY):
        return f"{response.status_code} to {response['Location']}"
    return str(response.status_code)


CELLS = [(name, persona) for name in TABLE for persona in PERSONAS]


@pytest.mark.parametrize(("name", "persona"), CELLS, ids=[f"{n}-{p}" for n, p in CELLS])
def test_each_persona_gets_the_expected_answer(client, world, name, persona):
    method, answers, _args = TABLE[name]
    want = answers[PERSONAS.index(persona)]
    user = world.users[persona]
    if user is not None:
        client.force_login(user)
    url = url_for(name, world)
    data = POSTED[name](world) if name in POSTED else {}
    response = getattr(client, method)(url, data)
    assert answer_matches(response, want), (
        f"{persona} {method.upper()} {url}: expected {shown(want)}, got {answer_of(response)}"
    )


# --- The WebSocket cells -------------------------------------------------------------


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def knock(path: str, cookie: str | None):
    """Open a socket through the real ASGI stack (origin check, session auth, routing)."""
    from portal.asgi import application

    headers = [(b"origin", b"http://localhost")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))

    async def handshake():
        socket = WebsocketCommunicator(application, path, headers)
        connected, code = await socket.connect(timeout=5)
        try:
            if not connected:
                return Closed(code)
            hello = await socket.receive_json_from(timeout=5)
            assert hello["type"] == "hello", hello
            return (ACCEPTED, hello["group"]["slug"])
        finally:
            await socket.disconnect()

    return async_to_sync(handshake)()


@pytest.fixture
def sockets_in_this_transaction(settings, monkeypatch):
    """Let the consumer's database calls see the world, which is not committed.

    They run on this thread's connection (as on SQLite, where the consumer uses no pool),
    and Channels does not recycle the connection around them: that would end the test's
    transaction. Access is decided by the same calls either way (``chat.chat_access``).
    """
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr("groups.consumers._parallel", lambda: False)
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)


SOCKET_CELLS = [(name, persona) for name in SOCKETS for persona in PERSONAS]


@pytest.mark.parametrize(
    ("name", "persona"), SOCKET_CELLS, ids=[f"{n}-{p}" for n, p in SOCKET_CELLS]
)
def test_each_persona_gets_the_expected_socket(world, sockets_in_this_transaction, name, persona):
    from groups.models import ExpertGroup
    from groups.services import group_archive, group_close

    route, slug, answers, archived = SOCKETS[name]
    if archived:
        staff, group = world.users["secretariat"], ExpertGroup.objects.get(slug=slug)
        group_close(actor=staff, group=group, reason="The work is done.")
        group_archive(actor=staff, group=group)
    user = world.users[persona]
    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: {"slug": slug}[m[1]], socket_routes()[route])
    got = knock(path, session_cookie(user) if user is not None else None)
    want = answers[PERSONAS.index(persona)]
    if want == ACCEPTED:
        assert got == (ACCEPTED, slug), f"{persona} on {path}: expected the room, got {got!r}"
    else:
        assert got == want, f"{persona} on {path}: expected {want!r}, got {got!r}"
