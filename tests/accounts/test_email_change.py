"""Changing one's e-mail address: the new address counts only once it is verified."""

import re
from http import HTTPStatus

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def confirmation_link() -> str:
    body = mail.outbox[-1].body
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+/)", body).group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def test_email_change_add_verify_then_the_new_address_is_primary_and_signs_in(client):
    user = UserFactory(email="old@example.org")
    client.force_login(user)
    response = client.post(reverse("account_email"), {"action_add": "", "email": "new@example.org"})
    assert response.status_code == HTTPStatus.FOUND

    # Pending: the old address is still the account's, the new one waits for its link.
    user.refresh_from_db()
    assert user.email == "old@example.org"
    pending = EmailAddress.objects.get(email="new@example.org")
    assert (pending.user, pending.verified, pending.primary) == (user, False, False)
    assert mail.outbox[-1].to == ["new@example.org"]
    page = client.get(reverse("account_email")).content.decode()
    assert "new@example.org" in page
    assert "pending verification" in page

    client.post(confirmation_link())
    user.refresh_from_db()
    assert user.email == "new@example.org"
    address = EmailAddress.objects.get(user=user)  # the old address is gone
    assert (address.email, address.verified, address.primary) == ("new@example.org", True, True)

    client.logout()
    assert sign_in(client, "old@example.org").status_code == HTTPStatus.OK  # refused
    assert sign_in(client, "new@example.org").status_code == HTTPStatus.FOUND
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.OK


def test_an_unverified_new_address_cannot_be_used_to_sign_in(client):
    user = UserFactory(email="old@example.org")
    client.force_login(user)
    client.post(reverse("account_email"), {"action_add": "", "email": "new@example.org"})
    client.logout()
    sign_in(client, "new@example.org")
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND


def test_changing_to_an_address_of_another_account_is_refused_at_the_field(client):
    UserFactory(email="taken@example.org")
    user = UserFactory(email="mine@example.org")
    client.force_login(user)
    before = set(EmailAddress.objects.values_list("pk", flat=True))
    response = client.post(
        reverse("account_email"), {"action_add": "", "email": "taken@example.org"}
    )
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["email"]
    assert set(EmailAddress.objects.values_list("pk", flat=True)) == before
    assert not mail.outbox
    user.refresh_from_db()
    assert user.email == "mine@example.org"
