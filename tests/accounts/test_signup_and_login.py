import re
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import hotp_value, yield_hotp_counters_from_time
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import BIO_MAX_LENGTH, User
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "new.expert@example.org",
    "password1": "a-Long-and-unusual-passphrase-42",
    "password2": "a-Long-and-unusual-passphrase-42",
    "full_name": "Nina New",
    "organisation": "Probation Service of Somewhere",
    "country": "PT",
    "timezone": "Europe/Lisbon",
    "language": "fr",
    "bio": "I work on electronic monitoring.",
}


def confirmation_link() -> str:
    body = mail.outbox[-1].body
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", body).group(1)


def test_signup_verification_then_login(client):
    response = client.post(reverse("account_signup"), SIGNUP)
    assert response.status_code == HTTPStatus.FOUND
    user = User.objects.get(email=SIGNUP["email"])
    assert user.full_name == "Nina New"
    assert user.country == "PT"
    assert user.timezone == "Europe/Lisbon"
    assert user.language == "fr"
    # Verification is mandatory: not signed in until the link is followed.
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND
    assert not EmailAddress.objects.get(email=SIGNUP["email"]).verified
    assert len(mail.outbox) == 1

    link = confirmation_link()
    client.post(link)
    assert EmailAddress.objects.get(email=SIGNUP["email"]).verified

    client.logout()
    response = client.post(
        reverse("account_login"), {"login": SIGNUP["email"], "password": SIGNUP["password1"]}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK


def test_unverified_user_cannot_sign_in(client):
    UserFactory(email="pending@example.org", verified=False)
    client.post(reverse("account_login"), {"login": "pending@example.org", "password": PASSWORD})
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password1": "password", "password2": "password"}, "password1"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"country": "XX"}, "country"),
        ({"bio": "x" * (BIO_MAX_LENGTH + 1)}, "bio"),
        ({"full_name": ""}, "full_name"),
        ({"email": "not-an-email"}, "email"),
    ],
)
def test_signup_with_bad_input_shows_the_error_at_the_field_and_saves_nothing(
    client, change, field
):
    response = client.post(reverse("account_signup"), {**SIGNUP, **change})
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors[field]
    assert not User.objects.exists()
    assert not mail.outbox


@pytest.mark.parametrize("email", [SIGNUP["email"], SIGNUP["email"].upper()])
def test_signup_with_existing_email_says_so_at_the_field_and_saves_nothing(client, email):
    UserFactory(email=SIGNUP["email"])
    users, addresses = User.objects.count(), EmailAddress.objects.count()
    response = client.post(reverse("account_signup"), {**SIGNUP, "email": email})
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["email"] == [
        "A user is already registered with this email address."
    ]
    assert "A user is already registered with this email address." in response.content.decode()
    assert User.objects.count() == users
    assert EmailAddress.objects.count() == addresses
    assert not mail.outbox


def login_failed_limit() -> int:
    """The smallest "amount" in the portal's own ``login_failed`` rate limit."""
    rules = settings.ACCOUNT_RATE_LIMITS["login_failed"].split(",")
    return min(int(rule.split("/")[0]) for rule in rules)


def test_failed_logins_are_refused_once_the_portals_own_limit_is_reached(client):
    limit = login_failed_limit()
    assert limit == 5  # what portal/settings/base.py configures; change both together
    UserFactory(email="target@example.org")
    wrong = {"login": "target@example.org", "password": "wrong-password"}
    # The first `limit` failures are ordinary failures, each told so.
    for _ in range(limit):
        response = client.post(reverse("account_login"), wrong)
        assert response.status_code == HTTPStatus.OK
        assert "Too many failed login attempts" not in response.content.decode()
        assert response.context["form"].errors
    # The next attempt is refused even with the right password, with a clear message.
    response = client.post(
        reverse("account_login"), {"login": "target@example.org", "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.OK
    assert "Too many failed login attempts. Try again later." in response.content.decode()
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND


def test_one_failure_fewer_than_the_limit_still_lets_the_right_password_in(client):
    UserFactory(email="target@example.org")
    for _ in range(login_failed_limit() - 1):
        client.post(reverse("account_login"), {"login": "target@example.org", "password": "no"})
    response = client.post(
        reverse("account_login"), {"login": "target@example.org", "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK


def password_reset_link() -> str:
    body = mail.outbox[-1].body
    return re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", body).group(1)


def test_password_reset_from_the_link_in_the_email_to_signing_in(client):
    UserFactory(email="forgetful@example.org")
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.org"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["forgetful@example.org"]

    # allauth moves the key out of the URL into the session, then shows the form.
    response = client.get(password_reset_link(), follow=True)
    assert response.status_code == HTTPStatus.OK
    form_url = response.redirect_chain[-1][0]
    new_password = "a-Brand-new-passphrase-77"
    response = client.post(form_url, {"password1": new_password, "password2": new_password})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("account_reset_password_from_key_done")

    client.logout()
    old = client.post(
        reverse("account_login"), {"login": "forgetful@example.org", "password": PASSWORD}
    )
    assert old.status_code == HTTPStatus.OK  # the old password no longer works
    response = client.post(
        reverse("account_login"), {"login": "forgetful@example.org", "password": new_password}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK


def test_a_used_password_reset_link_does_not_work_twice(client):
    UserFactory(email="forgetful@example.org")
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.org"})
    link = password_reset_link()
    form_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(form_url, {"password1": "first-New-pass-2026", "password2": "first-New-pass-2026"})
    client.logout()
    response = client.get(link, follow=True)
    assert response.context["token_fail"]


def test_password_reset_does_not_reveal_whether_an_address_has_an_account(client):
    UserFactory(email="known@example.org")
    known = client.post(reverse("account_reset_password"), {"email": "known@example.org"})
    unknown = client.post(reverse("account_reset_password"), {"email": "nobody@example.org"})
    # Same answer on the page for both; only the owner of the address learns more.
    assert known.status_code == unknown.status_code == HTTPStatus.FOUND
    assert known["Location"] == unknown["Location"] == reverse("account_reset_password_done")
    assert [m.to for m in mail.outbox] == [["known@example.org"], ["nobody@example.org"]]
    assert "/accounts/password/reset/key/" not in mail.outbox[1].body


def test_password_reset_still_refuses_a_malformed_address(client):
    response = client.post(reverse("account_reset_password"), {"email": "not-an-address"})
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["email"]
    assert not mail.outbox


def test_mfa_enrolment_then_login_asks_for_a_code(client):
    user = UserFactory(email="careful@example.org")
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    # Enrolment asks for the password again first.
    response = client.get(reverse("mfa_activate_totp"))
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    client.post(response["Location"], {"password": PASSWORD})
    # Enrolment: the page shows a secret; confirming with a valid code activates TOTP.
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == HTTPStatus.OK
    secret = response.context["form"].secret
    # The clock stands still while the code is made and checked: no 30 s step in between.
    with time_machine.travel(timezone.now(), tick=False):
        counter = next(iter(yield_hotp_counters_from_time()))
        code = f"{hotp_value(secret, counter):06d}"
        response = client.post(reverse("mfa_activate_totp"), {"code": code})
    assert response.status_code == HTTPStatus.FOUND
    assert user.authenticator_set.filter(type="totp").exists()

    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "careful@example.org", "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND  # not yet in

    # Sign in a little later, with the code of that moment.
    with time_machine.travel(timezone.now() + timedelta(seconds=90)):
        counter = next(iter(yield_hotp_counters_from_time()))
        response = client.post(
            reverse("mfa_authenticate"), {"code": f"{hotp_value(secret, counter):06d}"}
        )
        assert response.status_code == HTTPStatus.FOUND
        assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK


def test_wrong_mfa_code_keeps_the_user_out(client):
    from tests.conftest import make_secretariat

    user = make_secretariat(UserFactory(email="staff@example.org"))
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    response = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND


def test_login_with_a_recovery_code_and_each_code_works_once(client):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    from tests.conftest import make_secretariat

    user = make_secretariat(UserFactory(email="lost-phone@example.org"))
    codes = RecoveryCodes.activate(user).get_unused_codes()
    assert len(codes) >= 2

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK
    rc = RecoveryCodes(user.authenticator_set.get(type="recovery_codes"))
    assert codes[0] not in rc.get_unused_codes()

    # The same code a second time is refused; another unused one lets the person in.
    client.logout()
    client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    response = client.post(reverse("mfa_authenticate"), {"code": codes[0]})
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["code"]
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND
    response = client.post(reverse("mfa_authenticate"), {"code": codes[1]})
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK
