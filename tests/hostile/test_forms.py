"""Every form of the portal under hostile input: no 500, and a refusal writes nothing.

For each URL that accepts POST, the persona who may use it loads the page that
shows the form, reads its real fields (and the values a browser would send,
completed with a few valid ones so that posts get past the first check), and
Hypothesis then posts that form with some fields replaced by hostile values
(``tests/hostile/strategies.py``), others left out, unknown keys added and ids
of another group's objects slipped in. Files go in a multipart body built by
hand, with names a browser would never send. Each post runs in a savepoint
rolled back afterwards, so every example meets the same world.

What must hold for every post:

- the answer is not a server error (an exception fails the test too);
- a refused post (a form shown again with its errors, a 4xx, a redirect that
  carries only an error message) leaves every table exactly as it was, and no
  file behind in the storage;
- nothing stored holds a NUL character (PostgreSQL refuses those: a 500 there).

``HYPOTHESIS_PROFILE=thorough`` runs many more examples (docs/security.md).
"""

import copy
import traceback
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import hotp_value, yield_hotp_counters_from_time
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import constants as message_levels
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import transaction
from django.urls import resolve, reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.models import ExpertiseArea
from documents import services as document_services
from documents.models import Document
from groups import chat
from groups import services as group_services
from groups.models import Membership
from meetings import services as meeting_services
from portal.services import notify
from tests.conftest import TOTP_SECRET, make_secretariat
from tests.documents import samples
from tests.documents.factories import upload_document
from tests.factories import PASSWORD, UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group
from tests.meetings.factories import frozen, make_meeting, make_poll
from tests.urlwalk import all_routes, sample_url

from . import dbstate, multipart
from .htmlforms import Field, Form, form_posting_to
from .strategies import (
    examples,
    extra_keys,
    hostile_content,
    hostile_filename,
    hostile_value,
)

pytestmark = pytest.mark.django_db

SAME = "same"  # the form is on the page the target itself shows (GET)
NEW_PASSWORD = "a-new-Passphrase-to-remember-42"

#: Tables a refused post may still change, and why.
ALLOWED_ON_FAILURE = {
    # A visitor's session is created or updated when something is kept in it (the
    # invitation token through signup, messages too long for their cookie, allauth's
    # login stages). It is the visitor's state, not the portal's data.
    "django_session",
}


@dataclass(frozen=True)
class Target:
    """One form: who posts it, to which object, where its fields are read."""

    persona: str
    pk: str | None = None  # world key of the object whose id is in the URL
    page: str | None = SAME  # route of the page showing the form (same URL arguments)
    action: str | None = None  # the action of ``groups:membership_action``
    query: str = ""  # the page's query string
    files: bool = False  # a multipart form with file inputs
    fields: tuple[str, ...] = ()  # names sent beside those read from the page
    valid: tuple[tuple[str, str], ...] = ()  # valid values (formatted with world["fmt"])


def V(**values) -> tuple[tuple[str, str], ...]:  # noqa: N802 - reads like a literal
    return tuple(values.items())


MEETING = V(title="Plenary", starts_at="2027-04-20T10:00", ends_at="2027-04-20T12:00")
POLL = V(
    title="Workshop",
    closes_at="2027-04-01T12:00",
    **{
        "slots-0-starts_at": "2027-04-10T10:00",
        "slots-0-ends_at": "2027-04-10T12:00",
        "slots-1-starts_at": "2027-04-11T10:00",
        "slots-1-ends_at": "2027-04-11T12:00",
    },
)
NEW_PASSWORDS = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}

# route -> the forms posted to it. Routes accepting POST that are not listed here are
# attacked by the generic tests below (see GENERIC_ROUTES and the completeness test).
TARGETS: dict[str, list[Target]] = {
    # --- groups
    "groups:join": [
        Target(
            "outsider",
            page="groups:public_detail",
            valid=V(motivation="I would like to contribute to this group."),
        )
    ],
    "groups:leave": [Target("member2", page="groups:detail")],
    "groups:confirm_term": [Target("member", page=None)],
    "groups:invite": [
        Target("coordinator", page="groups:members", valid=V(email="newcomer@example.org"))
    ],
    "groups:membership_action": [
        Target("coordinator", pk="pending", action="approve", page="groups:members"),
        Target("coordinator", pk="pending", action="decline", page=None, fields=("reason",)),
        Target("coordinator", pk="membership2", action="remove", page=None, fields=("reason",)),
        Target("coordinator", pk="membership2", action="promote", page="groups:members"),
        Target("coordinator", pk="co_membership", action="step-down", page="groups:members"),
    ],
    "groups:extension_request": [
        Target("coordinator", valid=V(justification="We did a lot and plan two more years."))
    ],
    "groups:edit": [Target("staff")],
    "groups:create": [
        Target(
            "staff",
            valid=V(
                name="Probation and mental health",
                slug="mental-health",
                summary="A summary.",
                start_date="{today}",
                coordinators="{member_pk}",
            ),
        )
    ],
    "groups:close": [Target("staff", page="groups:detail", valid=V(reason="The work is done."))],
    "groups:archive": [Target("staff", page=None, fields=("include_all_versions",))],
    "groups:appoint": [Target("staff", page="groups:members", valid=V(email="{member_email}"))],
    "groups:invitation": [Target("invitee")],
    "groups:extension_decide": [
        Target("staff", pk="extension", page="groups:secretariat_dashboard")
    ],
    "groups:chat_post": [Target("member", page="groups:chat", valid=V(body="Hello everyone"))],
    "groups:archive_package_rebuild": [Target("staff", page="groups:archive_package")],
    "groups:archive_package_check": [Target("staff", pk="nothing", page=None)],
    # --- documents
    "documents:upload": [Target("member", files=True)],
    "documents:folder_create": [Target("member", page="documents:list", valid=V(name="Minutes"))],
    "documents:version_add": [Target("member", pk="doc", page="documents:detail", files=True)],
    "documents:bin": [Target("member", pk="doc", page="documents:detail")],
    "documents:restore": [Target("member", pk="binned", page="documents:detail")],
    "documents:purge": [Target("staff", pk="binned", page="documents:detail")],
    "documents:zip": [Target("member", query="?id={restricted}", valid=V(confirm="on"))],
    "documents:download": [Target("member", pk="restricted", valid=V(confirm="on"))],
    "documents:version_download": [Target("member", pk="restricted", valid=V(confirm="on"))],
    # --- meetings
    "meetings:schedule": [Target("coordinator", valid=MEETING)],
    "meetings:edit": [Target("coordinator", pk="upcoming")],
    "meetings:cancel": [Target("coordinator", pk="upcoming", valid=V(reason="Too few people."))],
    "meetings:answer": [Target("member", pk="upcoming", page="meetings:detail")],
    "meetings:attendance": [Target("coordinator", pk="past")],
    "meetings:minutes": [Target("coordinator", pk="past")],
    "meetings:poll_create": [Target("coordinator", valid=POLL)],
    "meetings:poll_vote": [Target("member", pk="poll", page="meetings:poll_detail")],
    "meetings:poll_close": [Target("coordinator", pk="poll", page="meetings:poll_detail")],
    "meetings:poll_cancel": [Target("coordinator", pk="poll", page="meetings:poll_detail")],
    "meetings:feed_regenerate": [Target("member", page="meetings:feed_settings")],
    # --- accounts and the portal
    "accounts:profile_edit": [Target("member")],
    "accounts:my_data_export": [Target("member", page="accounts:my_data")],
    "accounts:account_delete": [
        Target("member", page="accounts:my_data", valid=V(password=PASSWORD, confirm="on"))
    ],
    "language_switch": [Target("anonymous", page="home"), Target("member", page="dashboard")],
    "notifications_read": [Target("member", page="notifications")],
    "notification_settings": [Target("member")],
    # --- allauth: signing in and up, passwords, e-mail addresses, two-factor
    "account_login": [Target("anonymous", valid=V(login="{member_email}", password=PASSWORD))],
    "account_signup": [
        Target("anonymous", valid=V(email="new@example.org", full_name="Nia New", **NEW_PASSWORDS))
    ],
    "account_logout": [Target("member")],
    "account_reset_password": [Target("anonymous", valid=V(email="{member_email}"))],
    "account_reset_password_from_key": [
        Target("anonymous", pk="reset_key", valid=V(**NEW_PASSWORDS))
    ],
    "account_change_password": [Target("member", valid=V(oldpassword=PASSWORD, **NEW_PASSWORDS))],
    "account_set_password": [Target("passwordless", valid=V(**NEW_PASSWORDS))],
    "account_email": [Target("member", valid=V(email="third@example.org"))],
    "account_reauthenticate": [Target("member", valid=V(password=PASSWORD))],
    "account_request_reauthentication_code": [Target("member")],
    # Codes by e-mail are off: without a code pending, these answer with a redirect.
    "account_confirm_reauthentication_code": [Target("member", page=None, fields=("code",))],
    "account_confirm_login_code": [Target("anonymous", page=None, fields=("code",))],
    "account_confirm_email": [Target("anonymous", pk="email_key")],
    "mfa_activate_totp": [Target("member2")],
    "mfa_deactivate_totp": [Target("staff")],
    "mfa_generate_recovery_codes": [Target("staff")],
    "mfa_authenticate": [Target("staff_half", valid=V(code="{totp}"))],
    "mfa_reauthenticate": [Target("staff", valid=V(code="{totp}"))],
}

#: Routes that accept POST without a form of their own (pages that answer POST like
#: GET, the admin's own pages): posted with unknown keys and whatever fields their page
#: shows, by a superuser with two-factor authentication for the admin, a member otherwise.
GENERIC_ROUTES = [
    "accounts:directory",
    "accounts:expert_detail",
    "accounts:profile",
    "dashboard",
    "admin:index",
    "admin:app_list",
    "admin:login",
    "admin:password_change",
    "admin:auth_user_password_change",
    "admin:view_on_site",
    "admin:logout",
]
#: The views of each model registered in the admin (``admin:<app>_<model>_<view>``).
ADMIN_VIEWS = ("add", "change", "changelist", "delete", "history")


def admin_models() -> list:
    return sorted(admin.site._registry, key=lambda m: m._meta.label)


def admin_prefix(model) -> str:
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_"


# --- The world --------------------------------------------------------------------


@pytest.fixture
def world(db):
    """One group with everything a form can act on, and another group to steal ids from.

    The clock stands still (on the meetings' reference day, moved a week on) for the
    whole test: dates in forms and TOTP codes stay valid whatever the day of the run.
    """
    with frozen() as clock:
        staff = make_secretariat(UserFactory(full_name="Sam Secretariat"))
        admin_user = make_secretariat(UserFactory(full_name="Ada Admin", is_superuser=True))
        RecoveryCodes.activate(admin_user)
        group = make_group(slug="target", actor=staff)
        other = make_group(slug="elsewhere", actor=staff)
        extended = make_group(slug="extended", actor=staff)
        coordinator = coordinator_of(group)
        member = add_member(group, UserFactory(full_name="Ana Lima"))
        member2 = add_member(group, UserFactory(full_name="Ben Okafor"))
        applicant = UserFactory(full_name="Pat Applicant")
        pending = group_services.membership_request(
            actor=applicant, group=group, motivation="I would like to contribute, please."
        )
        invitee = UserFactory(email="invitee@example.org")
        invitation = group_services.invitation_create(
            actor=coordinator, group=group, email=invitee.email
        )
        extension = group_services.extension_request(
            actor=coordinator_of(extended),
            group=extended,
            justification="The group did a lot and wants to go on for two more years.",
        )
        folder = document_services.folder_create(actor=member, group=group, name="Reports")
        doc = upload_document(group, member, folder=folder, keywords="monitoring")
        binned = upload_document(group, member, name="old.txt", content=samples.TEXT)
        document_services.document_bin(actor=member, document=binned)
        restricted = upload_document(
            group, member, name="secret.pdf", content=samples.PDF + b"%r", sensitivity="restricted"
        )
        document_services.restricted_download_confirm(
            actor=member2, versions=[restricted.current_version]
        )
        message = chat.chat_message_post(actor=member, group=group, body="Hello @Ben Okafor")
        past = make_meeting(group, title="Last week")
        clock.move_to(past.ends_at + timedelta(hours=1))
        upcoming = make_meeting(group, title="Next week")
        poll = make_poll(group)
        meeting_services.calendar_feed_of(user=member)
        notify(users=[member], category="chat", title="You were mentioned", url="/dashboard/")
        ExpertiseArea.objects.create(name="Electronic monitoring", slug="electronic-monitoring")
        # Another group's objects: their ids are slipped into this group's forms.
        other_member = add_member(other)
        foreign = {
            "document": upload_document(other, other_member, name="theirs.pdf"),
            "folder": document_services.folder_create(actor=other_member, group=other, name="X"),
            "meeting": make_meeting(other, title="Not yours"),
            "poll": make_poll(other, title="Not yours either"),
            "membership": group_services.membership_request(
                actor=UserFactory(), group=other, motivation="Let me in, I am motivated."
            ),
            "message": chat.chat_message_post(actor=other_member, group=other, body="Theirs"),
        }
        foreign_ids = sorted(
            {obj.pk for obj in foreign.values()}
            | {foreign["poll"].slots.first().pk, other_member.pk, other.pk}
        )
        from allauth.account.forms import default_token_generator
        from allauth.account.models import EmailAddress, EmailConfirmationHMAC
        from allauth.account.utils import user_pk_to_url_str

        outsider = UserFactory()
        email = EmailAddress.objects.create(user=outsider, email="second@example.org")
        passwordless = UserFactory(full_name="Pia Passwordless")
        passwordless.set_unusable_password()
        passwordless.save()
        counter = next(iter(yield_hotp_counters_from_time()))
        yield {
            "clock": clock,
            "users": {
                "anonymous": None,
                "staff": staff,
                "admin": admin_user,
                "coordinator": coordinator,
                "member": member,
                "member2": member2,
                "outsider": outsider,
                "invitee": invitee,
                "staff_half": staff,  # signed in with the password, the TOTP code not yet given
                "passwordless": passwordless,
            },
            "pk": {
                "pending": pending.pk,
                "membership2": Membership.objects.get(user=member2, group=group).pk,
                "co_membership": Membership.objects.get(user=coordinator, group=group).pk,
                "extension": extension.pk,
                "doc": doc.pk,
                "binned": binned.pk,
                "restricted": restricted.pk,
                "upcoming": upcoming.pk,
                "past": past.pk,
                "poll": poll.pk,
                "nothing": 999_999,
            },
            "tokens": {
                "token": invitation.token,
                "uidb36": user_pk_to_url_str(member),
                "key": default_token_generator.make_token(member),
                "email_key": EmailConfirmationHMAC(email).key,
            },
            "fmt": {
                "today": timezone.localdate().isoformat(),
                "member_pk": str(member.pk),
                "member_email": member.email,
                "totp": f"{hotp_value(TOTP_SECRET, counter):06d}",
                **{key: str(value) for key, value in [("restricted", restricted.pk)]},
            },
            "message": message,
            "foreign_ids": foreign_ids,
        }


def url_of(name: str, target: Target, world) -> str:
    route = next(r for r in all_routes() if r.name == name)
    values = {
        "slug": "target",
        "number": 1,
        "action": target.action,
        "token": world["tokens"]["token"],
        "uidb36": world["tokens"]["uidb36"],
        "key": world["tokens"]["email_key" if target.pk == "email_key" else "key"],
    }
    if target.pk in world["pk"]:
        values["pk"] = world["pk"][target.pk]
    return reverse(name, kwargs={k: values[k] for k in route.kwargs_names})


def sign_in(client, world, persona: str) -> None:
    """Sign in as a real visitor does (password, then the TOTP code if enrolled), so that
    pages asking for a recent authentication (two-factor settings) open at once."""
    user = world["users"][persona]
    if user is None:
        return
    if not user.has_usable_password():
        client.force_login(user)
        return
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND, "the persona could not sign in"
    if response["Location"] == reverse("mfa_authenticate"):
        if persona == "staff_half":
            return
        response = client.post(response["Location"], {"code": world["fmt"]["totp"]})
        assert response.status_code == HTTPStatus.FOUND, "the persona could not pass two-factor"
    # Two-factor settings ask for the password again; a fresh login does not count.
    response = client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert response.status_code == HTTPStatus.FOUND, "the persona could not reauthenticate"


def read_form(client, url: str, page: str | None, *, follow_to_self: bool) -> tuple[Form, str]:
    """The form posted to ``url``, read from ``page`` (an empty form without a page), and
    the address it posts to. A page may send its visitor on (allauth keeps a reset key
    in the session and moves to a clean address): a form on its own page then posts
    to where it ended."""
    if page is None:
        return Form(action=url, method="post", enctype=""), url
    response = client.get(page, follow=True)
    assert response.status_code == HTTPStatus.OK, f"{page} answered {response.status_code}"
    if response.redirect_chain:
        page = response.request["PATH_INFO"]
        if follow_to_self:
            ended = resolve(page).view_name
            assert ended == resolve(url).view_name, f"{url} sent its visitor to {page}"
            url = page
    form = form_posting_to(response.content.decode(), page, url)
    assert form is not None, f"no form posting to {url} on {page}"
    return form, url


# --- The attack ---------------------------------------------------------------------

MISSING = object()


def _values(value) -> list:
    return value if isinstance(value, list) else [value]


@st.composite
def hostile_post(draw, form: Form, foreign_ids: list[int], valid: dict[str, str]):
    """The form's data as a browser sends it (with ``valid`` values filled in), with a
    few fields attacked, unknown keys added, and hostile files in its file inputs."""
    data: dict[str, list] = form.baseline()
    data.update({name: [value] for name, value in valid.items()})
    submits = [f for f in form.fields.values() if f.kind == "submit" and f.values]
    if submits:  # the button the user pressed, when the form has several
        button = draw(st.sampled_from(submits))
        data[button.name] = [draw(st.sampled_from(button.values))]
    names = sorted(name for name, f in form.fields.items() if f.kind not in ("file", "submit"))
    for name in draw(st.lists(st.sampled_from(names), unique=True)) if names else []:
        f = form.fields[name]
        options = [st.just(MISSING), hostile_value(foreign_ids)]
        if f.values:
            options.append(st.lists(st.sampled_from(f.values), min_size=1, max_size=3))
        value = draw(st.one_of(*options))
        if value is MISSING:
            data.pop(name, None)
        else:
            data[name] = _values(value)
    for key, value in draw(extra_keys).items():
        data[key] = _values(value)
    for f in (f for f in form.fields.values() if f.kind == "file"):
        if draw(st.booleans()):
            data[f.name] = [multipart.RawFile("report.pdf", samples.PDF, "application/pdf")]
        else:
            content_types = st.sampled_from(["application/pdf", "text/html", "", "x/y\x7f;a=b"])
            data[f.name] = [
                multipart.RawFile(
                    draw(hostile_filename), draw(hostile_content), draw(content_types)
                )
                for _n in range(draw(st.integers(0, 3)))
            ]
    return data


def _succeeded(response) -> bool:
    """Whether the post did what it was asked (possibly in part: one file of several)."""
    levels = {m.level for m in get_messages(response.wsgi_request)}
    if response.status_code in (HTTPStatus.FOUND, HTTPStatus.SEE_OTHER, HTTPStatus.CREATED):
        refused = levels & {message_levels.ERROR, message_levels.WARNING}
        return not refused or message_levels.SUCCESS in levels
    disposition = response.get("Content-Disposition", "")
    return response.status_code == HTTPStatus.OK and disposition.startswith("attachment")


def attack(client, url: str, post: dict, *, multipart_body: bool, json: bool = False) -> None:
    """Post once in a savepoint that is rolled back, and check what must hold."""
    cookies = copy.deepcopy(client.cookies)
    cache.clear()  # allauth's rate limits and the chat's allowance start afresh
    headers = {"HTTP_ACCEPT": "application/json"} if json else {}
    if multipart_body:
        body, content_type = multipart.encode(post)
        send = lambda: client.post(url, body, content_type=content_type, **headers)  # noqa: E731
    else:
        send = lambda: client.post(url, post, **headers)  # noqa: E731
    try:
        with transaction.atomic():
            try:
                before, files_before = dbstate.snapshot(), dbstate.stored_files()
                response = send()
                if getattr(response, "streaming", False):
                    b"".join(response.streaming_content)  # errors while streaming count too
                after = dbstate.snapshot()
                changes = dbstate.changed(before, after)
                new_files = dbstate.stored_files() - files_before
                stored_nul = dbstate.rows_with_nul(changes)
            finally:
                transaction.set_rollback(True)
    finally:
        client.cookies = cookies
    assert response.status_code < 500, f"{url} answered {response.status_code}"
    assert not stored_nul, f"NUL stored (PostgreSQL would fail): {stored_nul[:3]}"
    if not _succeeded(response):
        partial = {t: c for t, c in changes.items() if t not in ALLOWED_ON_FAILURE}
        assert not partial, f"{url} refused the post ({response.status_code}) but wrote {partial}"
        assert not new_files, f"{url} refused the post but left files behind: {new_files}"


# --- The forms of the portal ----------------------------------------------------------

CASES = [(name, target) for name, targets in TARGETS.items() for target in targets]


def _id(case) -> str:
    name, target = case
    return "-".join(filter(None, [name, target.persona, target.action]))


@pytest.mark.parametrize(("name", "target"), CASES, ids=[_id(c) for c in CASES])
@hypothesis_settings(max_examples=examples(10))
@given(data=st.data())
def test_hostile_post_never_fails_and_a_refusal_writes_nothing(client, world, name, target, data):
    forms = world.setdefault("forms", {})
    if (name, target) not in forms:  # once per test: Hypothesis runs this for each example
        sign_in(client, world, target.persona)
        url = url_of(name, target, world)
        page = None
        if target.page is not None:
            page = url if target.page == SAME else url_of(target.page, target, world)
            page += target.query.format(**world["fmt"])
        form, url = read_form(client, url, page, follow_to_self=target.page == SAME)
        for extra in target.fields:
            form.fields.setdefault(extra, Field(extra, "text"))
        valid = {k: v.format(**world["fmt"]) for k, v in target.valid}
        forms[(name, target)] = (form, url, valid)
    form, url, valid = forms[(name, target)]
    post = data.draw(hostile_post(form, world["foreign_ids"], valid), label="post")
    json = target.files and data.draw(st.booleans(), label="json")
    attack(client, url, post, multipart_body=target.files, json=json)


# --- Pages without a form of their own, and the admin ---------------------------------


def generic_url(name: str, world) -> str:
    member = world["users"]["member"]
    if name == "admin:auth_user_password_change":
        return reverse(name, kwargs={"id": member.pk})
    if name == "admin:app_list":
        return reverse(name, kwargs={"app_label": "documents"})
    if name == "admin:view_on_site":
        kind = ContentType.objects.get_for_model(Document)
        return reverse(name, kwargs={"content_type_id": kind.pk, "object_id": world["pk"]["doc"]})
    return sample_url(next(r for r in all_routes() if r.name == name), {"pk": str(member.pk)})


#: 500s of Django's own admin, answered only to a superuser forging posts (CSRF keeps
#: everyone else out), and left to Django: (exception, file, function it is raised in).
DJANGO_ADMIN_KNOWN = [
    # An id past 64 bits in a many-to-many field (a user's groups, a document's keywords):
    # the field's ``IN`` query overflows on SQLite (PostgreSQL just finds nothing).
    # The portal's own forms use portal.forms.BoundedModelMultipleChoiceField instead.
    (OverflowError, "django/forms/models.py", "_check_values"),
    # An admin action on "selected" rows whose ids are not numbers.
    (ValueError, "django/contrib/admin/options.py", "response_action"),
]


def _known_django_admin_failure(exc: BaseException) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(
        isinstance(exc, kind) and any(f.filename.endswith(path) and f.name == name for f in frames)
        for kind, path, name in DJANGO_ADMIN_KNOWN
    )


def _attack_each(client, world, data, urls: dict[str, str], *, admin_site=False) -> None:
    """One hostile post to each of ``urls`` ({route: url}), their forms read once."""
    forms = world.setdefault("forms", {})
    for name, url in urls.items():
        if name not in forms:
            response = client.get(url)
            form = None
            if response.status_code == HTTPStatus.OK and "html" in response.get("Content-Type"):
                form = form_posting_to(response.content.decode(), url, url)
            forms[name] = form or Form(action=url, method="post", enctype="")
        post = data.draw(hostile_post(forms[name], world["foreign_ids"], {}), label=name)
        try:
            attack(client, url, post, multipart_body=False)
        except (OverflowError, ValueError) as exc:
            if not (admin_site and _known_django_admin_failure(exc)):
                raise


@hypothesis_settings(max_examples=examples(3))
@given(data=st.data())
def test_hostile_post_to_pages_without_a_form_never_fails(client, world, data):
    if "signed_in" not in world:
        sign_in(client, world, "admin")
        world["signed_in"] = True
    urls = {name: generic_url(name, world) for name in GENERIC_ROUTES}
    _attack_each(client, world, data, urls)


@pytest.mark.parametrize("model", admin_models(), ids=lambda m: m._meta.label)
@hypothesis_settings(max_examples=examples(3))
@given(data=st.data())
def test_hostile_post_to_every_admin_view_never_fails(client, world, model, data):
    if "signed_in" not in world:
        sign_in(client, world, "admin")
        world["signed_in"] = True
    obj = model._default_manager.order_by("pk").first()
    assert obj is not None, f"the world has no {model._meta.label} to edit"
    prefix = admin_prefix(model)
    urls = {
        f"{prefix}{view}": reverse(
            f"{prefix}{view}",
            kwargs={"object_id": obj.pk} if view not in ("add", "changelist") else {},
        )
        for view in ADMIN_VIEWS
    }
    _attack_each(client, world, data, urls, admin_site=True)


# --- Nothing is left out ----------------------------------------------------------------


def test_every_route_that_accepts_post_is_attacked(client, world):
    """A new URL that accepts POST fails this test until it is attacked above."""
    sign_in(client, world, "admin")
    admin_routes = {f"{admin_prefix(m)}{view}" for m in admin_models() for view in ADMIN_VIEWS}
    attacked = set(TARGETS) | set(GENERIC_ROUTES) | admin_routes
    routes = {route.name: route for route in all_routes()}
    assert not attacked - set(routes), f"stale: {sorted(attacked - set(routes))}"
    accepting = []
    for name in sorted(set(routes) - attacked):
        with transaction.atomic():
            status = client.post(sample_url(routes[name])).status_code
            transaction.set_rollback(True)
        if status != HTTPStatus.METHOD_NOT_ALLOWED:
            accepting.append((name, status))
    assert not accepting, f"these accept POST and are not attacked: {accepting}"
