"""The secretariat role: its Django group, who may grant it, and the admin behind MFA."""

from http import HTTPStatus
from io import StringIO

import pytest
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.demo import demo_people
from accounts.models import User
from accounts.rules import has_mfa, is_secretariat
from portal.models import Activity
from tests.conftest import make_secretariat
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_PAGES = ["admin:index", "admin:accounts_user_changelist", "admin:meetings_meeting_changelist"]


def secretariat_permissions() -> set[str]:
    group = Group.objects.get(name=settings.SECRETARIAT_GROUP)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


# --- The admin needs MFA ---------------------------------------------------------------


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_staff_without_an_authenticator_is_sent_to_set_one_up_not_into_the_admin(client, page):
    staff = make_secretariat(UserFactory(), with_mfa=False)
    client.force_login(staff)
    response = client.get(reverse(page), follow=True)
    assert response.redirect_chain[-1][0].startswith(
        (reverse("mfa_activate_totp"), reverse("account_reauthenticate"))
    )
    assert response.status_code == HTTPStatus.OK
    assert "The administration needs two-factor authentication. Set it up to continue." in [
        str(m) for m in get_messages(response.wsgi_request)
    ]
    assert 'id="site-name"' not in response.content.decode()  # no admin page was shown


def test_a_superuser_without_an_authenticator_is_kept_out_of_the_admin_too(client):
    boss = User.objects.create_superuser(email="root@example.org", password=PASSWORD)
    client.force_login(boss)
    response = client.get(reverse("admin:index"))
    assert response.status_code == HTTPStatus.FOUND
    response = client.get(response["Location"])
    assert response["Location"] == reverse("mfa_activate_totp")


def test_staff_with_an_authenticator_uses_the_admin(client):
    staff = make_secretariat(UserFactory())
    client.force_login(staff)
    for page in ADMIN_PAGES:
        assert client.get(reverse(page)).status_code == HTTPStatus.OK, page


def test_the_admin_opens_once_the_authenticator_is_set_up(client):
    staff = make_secretariat(UserFactory(), with_mfa=False)
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.FOUND
    make_secretariat(staff)  # enrols TOTP
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.OK


def test_a_non_staff_member_is_refused_by_the_admin(auth_client):
    response = auth_client.get(reverse("admin:index"), follow=True)
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_the_admin_login_page_sends_anonymous_visitors_to_the_portals_login(client):
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("account_login"))


# --- The Secretariat group comes from a migration --------------------------------------


def test_a_migration_creates_the_secretariat_group_with_admin_permissions():
    granted = secretariat_permissions()
    assert {
        "accounts.view_user",
        "accounts.change_user",
        "accounts.add_expertisearea",
        "meetings.view_meeting",
        "meetings.change_meeting",
        "documents.view_document",
        "documents.change_document",
        "account.view_emailaddress",
    } <= granted
    # Nothing that hands out power or deletes people.
    assert not granted & {
        "accounts.add_user",
        "accounts.delete_user",
        "auth.change_group",
        "auth.change_permission",
        "account.change_emailaddress",
        "mfa.view_authenticator",
        "mfa.change_authenticator",
    }
    assert all(app != "auth" for app, _ in (p.split(".") for p in granted))


def test_demo_data_relies_on_the_migrated_group_and_does_not_widen_it():
    before = secretariat_permissions()
    demo_people()
    demo_people()  # idempotent
    assert secretariat_permissions() == before
    sofia = User.objects.get(email="secretariat@example.org")
    assert sofia.is_staff
    assert is_secretariat(sofia)
    assert has_mfa(sofia)
    assert sofia.has_perm("accounts.use_secretariat")
    assert Activity.objects.filter(verb="secretariat.granted").count() == 1


# --- The user admin cannot be used to gain power ------------------------------------


def change_form(user: User, **changes) -> dict:
    """The user change form as the admin would post it, with ``changes``."""
    data = {
        "email": user.email,
        "full_name": user.full_name,
        "organisation": user.organisation,
        "country": user.country,
        "jurisdiction": "",
        "languages": "[]",
        "timezone": user.timezone,
        "language": user.language,
        "bio": user.bio,
        "directory_visible": "on",
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "09:00:00",
    }
    data.update(changes)
    return data


def test_a_secretariat_member_cannot_make_themselves_superuser_or_join_groups(client):
    sam = make_secretariat(UserFactory())
    client.force_login(sam)
    url = reverse("admin:accounts_user_change", args=[sam.pk])
    page = client.get(url)
    assert page.status_code == HTTPStatus.OK
    form_fields = page.context["adminform"].form.fields
    for name in ("is_superuser", "is_staff", "groups", "user_permissions"):
        assert name not in form_fields
    other_group = Group.objects.create(name="Everything")
    response = client.post(
        url,
        change_form(
            sam,
            bio="Edited by myself",
            is_superuser="on",
            groups=[other_group.pk],
            user_permissions=[],
        ),
    )
    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    sam.refresh_from_db()
    assert sam.bio == "Edited by myself"  # the form itself works
    assert not sam.is_superuser
    assert set(sam.groups.values_list("name", flat=True)) == {settings.SECRETARIAT_GROUP}


def test_a_secretariat_member_edits_an_experts_profile_but_not_their_power(client):
    sam = make_secretariat(UserFactory())
    expert = UserFactory()
    client.force_login(sam)
    url = reverse("admin:accounts_user_change", args=[expert.pk])
    response = client.post(url, change_form(expert, organisation="New org", is_staff="on"))
    assert response.status_code == HTTPStatus.FOUND
    expert.refresh_from_db()
    assert expert.organisation == "New org"
    assert not expert.is_staff


def test_a_secretariat_member_cannot_change_a_superuser_or_their_password(client):
    sam = make_secretariat(UserFactory())
    boss = User.objects.create_superuser(email="root@example.org", password=PASSWORD)
    client.force_login(sam)
    change = reverse("admin:accounts_user_change", args=[boss.pk])
    password = reverse("admin:auth_user_password_change", args=[boss.pk])
    assert client.get(change).status_code == HTTPStatus.OK  # may look
    assert 'name="email"' not in client.get(change).content.decode()  # read-only
    response = client.post(change, change_form(boss, email="sam-owns@example.org"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    new = "taken-Over-2026-xyz"
    response = client.post(password, {"password1": new, "password2": new})
    assert response.status_code == HTTPStatus.FORBIDDEN
    boss.refresh_from_db()
    assert boss.email == "root@example.org"
    assert boss.check_password(PASSWORD)


def test_a_secretariat_member_cannot_set_an_experts_password(client):
    sam = make_secretariat(UserFactory())
    expert = UserFactory()
    client.force_login(sam)
    password = reverse("admin:auth_user_password_change", args=[expert.pk])
    assert client.get(password).status_code == HTTPStatus.FORBIDDEN
    new = "taken-Over-2026-xyz"
    response = client.post(
        password, {"password1": new, "password2": new, "set_usable_password": "true"}
    )
    assert response.status_code == HTTPStatus.FORBIDDEN
    expert.refresh_from_db()
    assert expert.check_password(PASSWORD)
    assert not expert.check_password(new)
    # The change page no longer offers the password form (nor shows the hash).
    page = client.get(reverse("admin:accounts_user_change", args=[expert.pk]))
    assert page.status_code == HTTPStatus.OK
    assert all("password" not in opts["fields"] for _n, opts in page.context["adminform"].fieldsets)
    assert "../password/" not in page.content.decode()
    assert "pbkdf2" not in page.content.decode()


def test_a_superuser_still_sets_an_experts_password_in_the_admin(client):
    boss = User.objects.create_superuser(email="root@example.org", password=PASSWORD)
    make_secretariat(boss)  # gives the superuser an authenticator for the admin
    expert = UserFactory()
    client.force_login(boss)
    change = reverse("admin:accounts_user_change", args=[expert.pk])
    assert "../password/" in client.get(change).content.decode()
    password = reverse("admin:auth_user_password_change", args=[expert.pk])
    new = "set-By-The-Superuser-2026"
    response = client.post(
        password, {"password1": new, "password2": new, "set_usable_password": "true"}
    )
    assert response.status_code == HTTPStatus.FOUND
    expert.refresh_from_db()
    assert expert.check_password(new)


def test_a_superuser_still_manages_power_in_the_user_admin(client):
    boss = User.objects.create_superuser(email="root@example.org", password=PASSWORD)
    make_secretariat(boss)  # gives the superuser an authenticator for the admin
    expert = UserFactory()
    client.force_login(boss)
    url = reverse("admin:accounts_user_change", args=[expert.pk])
    assert "is_superuser" in client.get(url).context["adminform"].form.fields
    group = Group.objects.get(name=settings.SECRETARIAT_GROUP)
    response = client.post(url, change_form(expert, is_staff="on", groups=[group.pk]))
    assert response.status_code == HTTPStatus.FOUND
    expert.refresh_from_db()
    assert expert.is_staff
    assert is_secretariat(expert)


# --- grant_secretariat ---------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command("grant_secretariat", *args, stdout=out)
    return out.getvalue()


def test_grant_secretariat_adds_the_group_and_staff_flag_and_says_mfa_is_needed():
    person = UserFactory(email="new.staff@example.org")
    output = run("New.Staff@example.org")
    assert "new.staff@example.org joined the secretariat." in output
    assert "two-factor authentication" in output
    person.refresh_from_db()
    assert person.is_staff
    assert is_secretariat(person)
    assert not person.has_perm("accounts.use_secretariat")  # not before MFA
    Authenticator.objects.create(user=person, type=Authenticator.Type.TOTP, data={})
    person = User.objects.get(pk=person.pk)
    assert person.has_perm("accounts.use_secretariat")
    assert person.has_perm("accounts.change_user")  # the group's admin permission
    activity = Activity.objects.get(verb="secretariat.granted")
    assert activity.actor is None
    assert activity.data == {"user": person.pk}


def test_grant_secretariat_twice_changes_nothing_the_second_time():
    UserFactory(email="staff@example.org")
    run("staff@example.org")
    assert "already in the secretariat; nothing changed" in run("staff@example.org")
    assert Activity.objects.filter(verb="secretariat.granted").count() == 1


def test_grant_secretariat_revoke_takes_the_role_away():
    person = make_secretariat(UserFactory(email="leaving@example.org"))
    output = run("leaving@example.org", "--revoke")
    assert "leaving@example.org left the secretariat." in output
    person = User.objects.get(pk=person.pk)
    assert not person.is_staff
    assert not is_secretariat(person)
    assert Activity.objects.filter(verb="secretariat.revoked").count() == 1
    assert "was not in the secretariat" in run("leaving@example.org", "--revoke")


def test_revoking_a_superuser_keeps_them_staff():
    boss = User.objects.create_superuser(email="root@example.org", password=PASSWORD)
    run("root@example.org")
    run("root@example.org", "--revoke")
    boss.refresh_from_db()
    assert boss.is_staff
    assert not boss.groups.exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda: None, "No account with the e-mail address"),
        (lambda: UserFactory(email="x@example.org", is_active=False), "Only an active account"),
    ],
)
def test_grant_secretariat_refuses_unknown_and_inactive_accounts(setup, message):
    setup()
    with pytest.raises(CommandError, match=message):
        run("x@example.org")
    assert not User.objects.filter(is_staff=True).exists()


def test_only_a_superuser_grants_the_secretariat_through_the_service():
    from django.core.exceptions import PermissionDenied

    from accounts.services import secretariat_grant

    sam = make_secretariat(UserFactory())
    expert = UserFactory()
    with pytest.raises(PermissionDenied):
        secretariat_grant(user=expert, actor=sam)
    boss = User.objects.create_superuser(email="root@example.org", password=PASSWORD)
    assert secretariat_grant(user=expert, actor=boss)
    assert Activity.objects.get(verb="secretariat.granted").actor == boss
