"""The friendly error pages: 403, 404 and 500 in the site's own layout."""

import copy
from http import HTTPStatus

import pytest
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError
from django.urls import include, path, reverse

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.portal.test_errors")]


@login_not_required
def _boom(request):
    raise RuntimeError("a bug in a view")


def _refuse(request):
    raise PermissionDenied


# The portal's URLs plus two that fail on purpose, with the portal's own handlers.
urlpatterns = [
    path("test-errors/boom/", _boom, name="test_boom"),
    path("test-errors/refuse/", _refuse, name="test_refuse"),
    path("", include("portal.urls")),
]
handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"


def broken_context(request):
    """A context processor standing in for the database going away mid-request."""
    raise DatabaseError("the database is gone")


def assert_in_the_layout(html: str) -> None:
    assert 'class="skip-link" href="#main"' in html
    assert 'class="site-header"' in html
    assert '<main id="main"' in html
    assert 'class="site-footer"' in html
    assert "/static/portal/css/portal.css" in html


def test_an_unknown_page_gets_the_friendly_404_in_the_layout(client):
    response = client.get("/no/such/page/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    html = response.content.decode()
    assert_in_the_layout(html)
    assert "<h1>Page not found</h1>" in html
    assert "Traceback" not in html


def test_a_refusal_gets_the_friendly_403_in_the_layout(auth_client, user):
    response = auth_client.get(reverse("test_refuse"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    html = response.content.decode()
    assert_in_the_layout(html)
    assert "<h1>You cannot do this</h1>" in html
    assert user.get_short_name() in html  # the header knows who is signed in


def test_a_secretariat_page_refuses_an_expert_with_the_friendly_403(auth_client):
    response = auth_client.get(reverse("secretariat_overview"))
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "You cannot do this" in response.content.decode()


def test_a_crash_gets_the_friendly_500_in_the_layout(auth_client, user):
    auth_client.raise_request_exception = False
    response = auth_client.get(reverse("test_boom"))
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    html = response.content.decode()
    assert_in_the_layout(html)
    assert "<h1>Something went wrong</h1>" in html
    assert user.get_short_name() in html
    assert "a bug in a view" not in html


def test_the_500_page_is_translated(client):
    client.raise_request_exception = False
    client.cookies["django_language"] = "fr"
    response = client.get(reverse("test_boom"))
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert '<html lang="fr">' in response.content.decode()


def test_the_500_page_still_answers_when_its_layout_cannot_be_drawn(client, settings):
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["OPTIONS"]["context_processors"].append("tests.portal.test_errors.broken_context")
    settings.TEMPLATES = templates
    client.raise_request_exception = False
    response = client.get(reverse("test_boom"))
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html
    assert 'class="site-header"' not in html  # the plain page, without the layout
