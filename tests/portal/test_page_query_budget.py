"""Query budgets of the pages a member opens most (bench/load_pages.py's mix).

Every query costs about a millisecond of CPU on the web process (bench/page_cost.py),
and these pages are most of the traffic: the counts below are what the pages take
now, and a change that adds one must say why here. The navigation's counts (unread
chat per group; secretariat and unread notifications together) are read once per
request, whatever asks.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.rules import is_secretariat
from portal.models import Notification
from portal.selectors import navigation_facts
from portal.services import notifications_mark_read
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, make_group

pytestmark = pytest.mark.django_db

# Counted as the tests run them: the session and the user (2), then the page's own
# queries. These pages only read, so they run outside a request transaction
# (portal.decorators.read_only: no BEGIN and COMMIT, in tests no savepoint).
BUDGETS = {
    "dashboard": 11,
    "groups:detail": 10,
    "groups:members": 8,
    "documents:list": 11,  # with the filter's keywords and uploaders, no count on one page
}


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_a_members_page_stays_within_its_query_budget(client, django_assert_max_num_queries, name):
    group = make_group(name="Technology")
    member = add_member(group)
    other = make_group(name="Research")
    add_member(other, user=member)
    client.force_login(member)
    url = reverse(name) if name == "dashboard" else reverse(name, args=[group.slug])
    client.get(url)  # warm the caches (content types, the session)
    with django_assert_max_num_queries(BUDGETS[name]):
        assert client.get(url).status_code == 200


def test_the_unread_chat_counts_are_read_once_per_page(client):
    group = make_group(name="Technology")
    member = add_member(group)
    client.force_login(member)
    client.get(reverse("groups:detail", args=[group.slug]))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("groups:detail", args=[group.slug]))
    unread = [q for q in queries if "groups_chatreadmarker" in q["sql"]]
    assert len(unread) == 1, unread


def notify(user, *, read: bool = False) -> None:
    from django.utils import timezone

    Notification.objects.create(
        user=user, category="account", title="Hello", read_at=timezone.now() if read else None
    )


def test_the_navigation_facts_are_one_query_and_count_only_ones_own_unread(
    django_assert_num_queries,
):
    plain, staff, root = UserFactory(), make_secretariat(UserFactory()), UserFactory()
    root.is_superuser = True
    root.save()
    for _ in range(3):
        notify(plain)
    notify(plain, read=True)
    notify(staff)
    with django_assert_num_queries(1):
        assert navigation_facts(plain) == (False, 3)
    assert navigation_facts(staff) == (True, 1)
    assert navigation_facts(root) == (True, 0)
    # Both answers are kept for the request: the rules and the navigation ask once.
    with django_assert_num_queries(0):
        assert is_secretariat(staff) is True
        assert is_secretariat(plain) is False
        assert navigation_facts(plain) == (False, 3)
    # Marking read forgets the kept count, so a page rendered after it is right.
    notifications_mark_read(user=plain)
    assert navigation_facts(plain) == (False, 0)


def test_the_permission_rules_ask_the_same_one_query(django_assert_num_queries):
    staff = make_secretariat(UserFactory())
    notify(staff)
    with django_assert_num_queries(1):
        assert is_secretariat(staff) is True
        assert navigation_facts(staff) == (True, 1)


def test_model_choices_are_read_with_a_plain_query_not_a_server_side_cursor(monkeypatch):
    from django.db.models.query import QuerySet

    from accounts.models import User
    from portal.forms import BoundedModelMultipleChoiceField, ModelChoiceField

    people = [UserFactory(full_name=name) for name in ("Ana Lima", "Ben Okafor")]

    def no_cursor(self, *args, **kwargs):
        raise AssertionError("QuerySet.iterator() opens a server-side cursor on PostgreSQL")

    monkeypatch.setattr(QuerySet, "iterator", no_cursor)
    one = ModelChoiceField(queryset=User.objects.order_by("full_name"), empty_label="Anyone")
    many = BoundedModelMultipleChoiceField(queryset=User.objects.order_by("full_name"))
    assert [str(label) for _, label in one.choices] == ["Anyone", *map(str, people)]
    assert [value for value, _ in many.choices] == [p.pk for p in people]
    html = one.widget.render("who", None)
    assert "Ana Lima" in html and "Ben Okafor" in html


def test_the_documents_page_opens_no_server_side_cursor(client):
    group = make_group(name="Technology")
    member = add_member(group)
    client.force_login(member)
    url = reverse("documents:list", args=[group.slug])
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert not [q for q in queries if q["sql"].lstrip().upper().startswith("DECLARE")]


READ_ONLY_PAGES = [
    ("dashboard", False),
    ("groups:detail", True),
    ("groups:members", True),
    ("documents:list", True),
    ("groups:chat_history", True),
    ("meetings:group_list", True),
]


@pytest.mark.parametrize(("name", "per_group"), READ_ONLY_PAGES)
def test_the_busiest_pages_only_read_and_open_no_transaction(client, name, per_group):
    group = make_group(name="Technology")
    member = add_member(group)
    client.force_login(member)
    url = reverse(name, args=[group.slug]) if per_group else reverse(name)
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    statements = [q["sql"].lstrip().upper() for q in queries]
    assert not [sql for sql in statements if sql.startswith(("SAVEPOINT", "BEGIN"))]
    writes = ("INSERT", "UPDATE", "DELETE")
    assert not [sql for sql in statements if sql.startswith(writes)]
