"""Deny by default: every URL refuses an anonymous visitor unless listed as public."""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse

from tests.urlwalk import all_routes, sample_url

pytestmark = pytest.mark.django_db

# Pages an anonymous visitor may open. Everything else must redirect to login or refuse.
PUBLIC = {
    "home",
    "health",
    "language_switch",
    "groups:public_detail",
    # The private calendar feed: authenticated by the secret token in its URL.
    "meetings:feed",
    # allauth's entrance pages: signing in, signing up, recovering access.
    "account_login",
    "account_signup",
    "account_confirm_email",
    "account_email_verification_sent",
    "account_reset_password",
    "account_reset_password_done",
    "account_reset_password_from_key",
    "account_reset_password_from_key_done",
    "account_inactive",
    "account_logout",
    "account_login_code_confirm",
    "account_request_login_code",
    "account_confirm_login_code",
    "account_confirm_password_reset_code",
    "mfa_authenticate",
    "mfa_reauthenticate",
    "admin:login",
    "admin:logout",
    "admin:view_on_site",
    "admin:jsi18n",
}


def login_redirect(response) -> bool:
    if response.status_code != HTTPStatus.FOUND:
        return False
    location = response["Location"]
    return location.startswith(reverse(settings.LOGIN_URL)) or location.startswith(
        reverse("admin:login")
    )


ROUTES = [route for route in all_routes() if route.name not in PUBLIC]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_anonymous_visitor_is_sent_to_login_or_refused(client, route):
    url = sample_url(route)
    assert url is not None, f"cannot build a URL for {route.name}"
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert login_redirect(response) or response.status_code in (
            HTTPStatus.FORBIDDEN,
            HTTPStatus.NOT_FOUND,
            HTTPStatus.METHOD_NOT_ALLOWED,
        ), f"{method.upper()} {url} answered {response.status_code} to an anonymous visitor"


def test_every_public_page_is_a_real_route():
    names = {route.name for route in all_routes()}
    missing = {name for name in PUBLIC if name not in names}
    # Some allauth routes exist only with features switched on; the core ones must exist.
    assert {"home", "health", "account_login", "account_signup"} <= names
    assert not missing - {
        "groups:public_detail",
        "account_login_code_confirm",
        "account_request_login_code",
        "account_confirm_login_code",
        "account_confirm_password_reset_code",
        "admin:view_on_site",
    }


@pytest.mark.parametrize("name", ["home", "health", "account_login", "account_signup"])
def test_public_pages_open_for_anonymous_visitors(client, name):
    assert client.get(reverse(name)).status_code == HTTPStatus.OK
