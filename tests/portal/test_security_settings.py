import os
import subprocess
import sys
from http import HTTPStatus

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_check_deploy_is_clean_with_production_settings():
    # The browser tests allow async-unsafe calls in this process; a deployment never does.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env |= {
        "DJANGO_SETTINGS_MODULE": "portal.settings.production",
        "DJANGO_SECRET_KEY": "a-real-production-secret-of-sufficient-length-and-entropy-9f8e7d6c",
        "DJANGO_ALLOWED_HOSTS": "portal.example.org",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.org:587",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    env |= {"DJANGO_SETTINGS_MODULE": "portal.settings.production", "DJANGO_ALLOWED_HOSTS": "x"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert response["X-Content-Type-Options"] == "nosniff"


def test_language_switch_translates_pages_and_remembers_the_choice(client, user):
    client.force_login(user)
    client.post(reverse("language_switch"), {"language": "de", "next": "/dashboard/"})
    user.refresh_from_db()
    assert user.language == "de"
    response = client.get(reverse("dashboard"))
    assert response.headers["Content-Language"] == "de"
    assert "Willkommen" in response.content.decode()


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/x", "http://evil.example/", "/\\evil.example/"],
)
def test_language_switch_refuses_foreign_redirects(client, next_url):
    response = client.post(reverse("language_switch"), {"language": "fr", "next": next_url})
    assert response["Location"] == "/"


def test_language_switch_keeps_a_redirect_within_the_portal(client):
    response = client.post(
        reverse("language_switch"), {"language": "fr", "next": "/people/?q=monitoring"}
    )
    assert response["Location"] == "/people/?q=monitoring"


def test_unknown_page_gets_the_friendly_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert b"Page not found" in response.content


def test_dates_follow_the_users_time_zone(client, user):
    user.timezone = "Europe/Helsinki"
    user.save()
    client.force_login(user)
    client.get(reverse("dashboard"))
    response = client.get(reverse("dashboard"))
    assert "Europe/Helsinki" in response.content.decode()


def test_behind_the_proxy_failed_logins_are_limited_per_client_not_per_proxy(client, settings):
    """gunicorn sees the proxy's address; allauth's limit must follow X-Forwarded-For."""
    from django.core.cache import cache

    cache.clear()
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    refused = "Too many failed login attempts"

    def attempt(n: int, forwarded_for: str) -> str:
        data = {"login": f"nobody{n}@example.org", "password": "wrong-password"}
        response = client.post(
            reverse("account_login"),
            data,
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=forwarded_for,
        )
        return response.content.decode()

    pages = [attempt(n, "203.0.113.7") for n in range(6)]
    assert [refused in page for page in pages] == [False] * 5 + [True]
    # Another visitor behind the same proxy is not locked out by the first one.
    assert refused not in attempt(99, "198.51.100.9")
    cache.clear()
