import re
from datetime import timedelta
from http import HTTPStatus

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import hotp_value, yield_hotp_counters_from_time
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


def test_signup_with_existing_email_does_not_create_a_second_account(client):
    UserFactory(email=SIGNUP["email"])
    client.post(reverse("account_signup"), SIGNUP)
    assert User.objects.filter(email__iexact=SIGNUP["email"]).count() == 1


def test_too_many_failed_logins_are_rate_limited(client):
    UserFactory(email="target@example.org")
    statuses = []
    for _ in range(7):
        response = client.post(
            reverse("account_login"), {"login": "target@example.org", "password": "wrong"}
        )
        statuses.append(response.status_code)
    assert HTTPStatus.TOO_MANY_REQUESTS in statuses or b"Too many" in response.content


def test_password_reset_sends_a_link(client):
    UserFactory(email="forgetful@example.org")
    client.post(reverse("account_reset_password"), {"email": "forgetful@example.org"})
    assert len(mail.outbox) == 1
    assert "/accounts/password/reset/key/" in mail.outbox[0].body


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
