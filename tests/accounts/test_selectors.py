"""Reads about users."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.rules import is_secretariat
from accounts.selectors import active_user_with_role
from accounts.services import secretariat_revoke
from tests.conftest import make_secretariat
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: UserFactory(), False),
        (lambda: make_secretariat(UserFactory()), True),
        (lambda: UserFactory(is_superuser=True), True),
    ],
    ids=["member", "secretariat", "superuser"],
)
def test_the_user_comes_with_their_secretariat_role_in_one_query(make, expected):
    pk = make().pk
    with CaptureQueriesContext(connection) as queries:
        user = active_user_with_role(pk)
        assert is_secretariat(user) is expected
    assert len(queries) == 1
    assert user.pk == pk


def test_a_user_out_of_the_secretariat_or_switched_off_reads_as_such():
    user = make_secretariat(UserFactory())
    secretariat_revoke(user=user)
    assert is_secretariat(active_user_with_role(user.pk)) is False
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert active_user_with_role(user.pk) is None
