import os

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings
from django.contrib.auth.models import Group

from tests.factories import UserFactory

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

# CI sets this: a test that needs a service must fail, not skip, when it is missing.
SERVICES_REQUIRED = os.environ.get("PORTAL_REQUIRE_SERVICES") == "1"


def pytest_collection_modifyitems(items):
    """Browser tests run last: Playwright's sync API keeps an event loop running
    in the main thread for the rest of the session, which async_to_sync refuses."""
    items.sort(key=lambda item: "/tests/e2e/" in str(item.fspath))


def need_service(available: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a real service a test needs is absent."""
    if available:
        return
    if SERVICES_REQUIRED:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and at the end the connection pools closed
    first (DATABASE_POOL): pooled connections left open keep PostgreSQL from
    dropping the test database."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all(initialized_only=True):
            if getattr(connection, "pool", None) is not None:
                connection.close_pool()
        # A connection another thread still holds (a live server's request thread,
        # checked out of the pool) would keep PostgreSQL from dropping the test
        # database ("1 other session"): end every other session on it.
        connection = connections["default"]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connection.close()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Keep each test's files out of var/ and out of each other's way."""
    if settings.STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": tmp_path / "files", "base_url": None},
            },
        }


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _chat_groups_forget():
    """Each test starts without the chat's shared groups of an earlier test."""
    from groups.chat import chat_groups_forget

    chat_groups_forget()
    yield
    chat_groups_forget()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request in German leaves it active."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def auth_client(client, user):
    client.force_login(user)
    return client


def make_secretariat(user, *, with_mfa: bool = True):
    group, _ = Group.objects.get_or_create(name=settings.SECRETARIAT_GROUP)
    user.groups.add(group)
    user.is_staff = True
    user.save()
    if with_mfa and not Authenticator.objects.filter(user=user).exists():
        TOTP.activate(user, TOTP_SECRET)
    return user


@pytest.fixture
def secretariat_user(db):
    return make_secretariat(UserFactory(full_name="Sam Secretariat"))


@pytest.fixture
def secretariat_client(client, secretariat_user):
    client.force_login(secretariat_user)
    return client
