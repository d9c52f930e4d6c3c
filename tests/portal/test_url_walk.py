"""Deny by default: every URL that is not public refuses an anonymous visitor, whatever
the method and whatever the arguments.

Which routes are public is the anonymous column of tests/test_authorization_matrix.py
(where each route's exact answers, with real objects, are checked). This walk adds GET
and POST with placeholder arguments (ids that do not exist, tokens that are wrong).
"""

from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse

from tests.test_authorization_matrix import public_routes
from tests.urlwalk import all_routes, sample_url

pytestmark = pytest.mark.django_db


def login_redirect(response) -> bool:
    if response.status_code != HTTPStatus.FOUND:
        return False
    location = response["Location"]
    return location.startswith(reverse(settings.LOGIN_URL)) or location.startswith(
        reverse("admin:login")
    )


ROUTES = [route for route in all_routes() if route.name not in public_routes()]


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


def test_the_public_routes_are_the_entrance_pages():
    """A route that becomes public shows up here: a decision to take on purpose."""
    assert public_routes() == {
        "home",
        "health",
        "language_switch",
        "groups:public_detail",
        # Authenticated by the secret token in their URL.
        "groups:invitation",
        "meetings:feed",
        # allauth's entrance pages: signing in, signing up, recovering access.
        "account_login",
        "account_logout",
        "account_signup",
        "account_inactive",
        "account_email_verification_sent",
        "account_confirm_email",
        "account_reset_password",
        "account_reset_password_done",
        "account_reset_password_from_key",
        "account_reset_password_from_key_done",
    }
