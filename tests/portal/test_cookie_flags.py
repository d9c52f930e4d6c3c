"""Cookies no script reads are HttpOnly (found by the wapiti scan, docs/security.md)."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_csrf_cookie_is_httponly(client):
    response = client.get(reverse("account_login"))
    cookie = response.cookies[settings.CSRF_COOKIE_NAME]
    assert cookie.value
    assert cookie["httponly"]


def test_the_language_cookie_is_httponly_and_secure_over_https(client):
    response = client.post(reverse("language_switch"), {"language": "fr", "next": "/"}, secure=True)
    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "fr"
    assert cookie["httponly"]
    assert cookie["secure"]
    assert cookie["samesite"] == "Lax"


def test_forms_still_carry_the_csrf_token_in_the_page(client):
    # With an HttpOnly cookie, scripts take the token from the page (upload.js sends the
    # form's own field, htmx the body's hx-headers): both must be there.
    page = client.get(reverse("account_login")).content.decode()
    assert 'name="csrfmiddlewaretoken"' in page
    assert 'data-hx-headers=\'{"X-CSRFToken": "' in page
