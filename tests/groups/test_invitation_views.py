"""An invitation by e-mail, followed through the pages with the test client.

The link works for someone without an account: the token is kept in the session
through signup and e-mail verification, and the account adapter brings the new
member back to the invitation (accounts/adapters.py).
"""

import re
from http import HTTPStatus

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import User
from groups import services
from groups.models import Invitation, Membership
from groups.views import INVITATION_SESSION_KEY
from tests.factories import PASSWORD, UserFactory
from tests.groups.factories import coordinator_of, make_group

pytestmark = pytest.mark.django_db

SIGNUP = {
    "password1": "a-Long-and-unusual-passphrase-42",
    "password2": "a-Long-and-unusual-passphrase-42",
    "full_name": "Nina Newcomer",
    "organisation": "Probation Service of Somewhere",
    "country": "PT",
    "timezone": "Europe/Lisbon",
    "language": "en",
    "bio": "",
}


def path_in_last_mail(pattern: str) -> str:
    match = re.search(rf"https?://[^/\s]+({pattern})", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


@pytest.fixture
def invited(django_capture_on_commit_callbacks):
    group = make_group(name="Electronic Monitoring", slug="em")
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            actor=coordinator_of(group), group=group, email="Nina@Example.org"
        )
    link = path_in_last_mail(r"/invitation/[\w-]+/")
    assert link == reverse("groups:invitation", kwargs={"token": invitation.token})
    return group, invitation, link


def test_create_an_account_from_the_invitation_prefills_the_invited_address(client, invited):
    group, invitation, link = invited
    page = client.get(link).content.decode()
    signup = f"{reverse('account_signup')}?email=nina%40example.org"
    assert invitation.email == "nina@example.org"
    assert f'href="{signup}"' in page
    form = client.get(signup).content.decode()
    assert re.search(r'<input[^>]*name="email"[^>]*value="nina@example.org"', form)
    # Only the initial value: the address is not taken as verified, nor is it fixed.
    assert "account_verified_email" not in client.session


def test_someone_without_an_account_signs_up_from_the_link_and_lands_in_the_group(client, invited):
    group, invitation, link = invited
    # 1. The link, opened before having an account: the token is kept in the session.
    response = client.get(link)
    assert response.status_code == HTTPStatus.OK
    assert "groups/invitation_anonymous.html" in [t.name for t in response.templates]
    assert client.session[INVITATION_SESSION_KEY] == invitation.token
    assert reverse("account_signup") in response.content.decode()

    # 2. Signup: verification is mandatory, so nobody is signed in yet.
    response = client.post(reverse("account_signup"), {**SIGNUP, "email": "nina@example.org"})
    assert response.status_code == HTTPStatus.FOUND
    nina = User.objects.get(email="nina@example.org")
    assert not EmailAddress.objects.get(user=nina).verified
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND
    assert client.session[INVITATION_SESSION_KEY] == invitation.token
    assert not Membership.objects.filter(user=nina).exists()

    # 3. The verification link signs her in and brings her back to the invitation.
    response = client.post(path_in_last_mail(r"/accounts/confirm-email/\S+/"))
    assert EmailAddress.objects.get(user=nina).verified
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == link
    page = client.get(link)
    assert "groups/invitation.html" in [t.name for t in page.templates]
    assert "Electronic Monitoring" in page.content.decode()

    # 4. She accepts and is a member; the token leaves the session.
    response = client.post(link, {"answer": "accept"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == group.get_absolute_url()
    membership = Membership.objects.get(user=nina, group=group)
    assert (membership.state, membership.role) == ("active", "member")
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None and invitation.membership == membership
    assert INVITATION_SESSION_KEY not in client.session
    assert client.get(group.get_absolute_url()).status_code == HTTPStatus.OK
    # The adapter only redirects while a token waits: the next login goes to the dashboard.
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "nina@example.org", "password": SIGNUP["password1"]}
    )
    assert response["Location"] != link


def test_someone_with_an_account_signs_in_from_the_link_and_comes_back_to_it(client, invited):
    group, invitation, link = invited
    nina = UserFactory(email="nina@example.org")
    client.get(link)
    response = client.post(
        reverse("account_login"), {"login": "nina@example.org", "password": PASSWORD}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == link
    client.post(link, {"answer": "accept"})
    assert Membership.objects.get(user=nina, group=group).state == "active"


def test_signing_up_with_another_address_does_not_accept_the_invitation(client, invited):
    group, invitation, link = invited
    client.get(link)
    client.post(reverse("account_signup"), {**SIGNUP, "email": "someone.else@example.org"})
    client.post(path_in_last_mail(r"/accounts/confirm-email/\S+/"))
    response = client.post(link, {"answer": "accept"}, follow=True)
    assert "This invitation was sent to nina@example.org" in response.content.decode()
    other = User.objects.get(email="someone.else@example.org")
    assert not Membership.objects.filter(user=other, group=group).exists()
    assert Invitation.objects.get(pk=invitation.pk).is_open
