"""Query budgets of the pages a member opens most (bench/load_pages.py's mix).

Every query costs about a millisecond of CPU on the web process (bench/page_cost.py),
and these pages are most of the traffic: the counts below are what the pages take
now, and a change that adds one must say why here. The navigation's counts (unread
chat per group, unread notifications) are read once per request, whatever asks.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.groups.factories import add_member, make_group

pytestmark = pytest.mark.django_db

# Counted as the tests run them: the session and the user (2), the request's
# transaction (a savepoint and its release inside the test's transaction: 2), then
# the page's own queries.
BUDGETS = {
    "dashboard": 15,
    "groups:detail": 14,
    "groups:members": 12,
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
