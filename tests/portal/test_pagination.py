"""portal.pagination.Paginator: the total may come from a cheaper queryset."""

import pytest

from portal.pagination import Paginator
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_total_comes_from_count_from_when_given():
    users = [UserFactory() for _ in range(5)]
    rows = type(users[0]).objects.order_by("pk")
    paginator = Paginator(rows, 2, count_from=rows.filter(pk__in=[u.pk for u in users[:3]]))
    assert paginator.count == 3
    assert paginator.num_pages == 2
    assert [u.pk for u in paginator.page(1)] == [users[0].pk, users[1].pk]


def test_without_count_from_it_counts_the_list_like_djangos():
    users = [UserFactory() for _ in range(3)]
    paginator = Paginator(type(users[0]).objects.order_by("pk"), 2)
    assert paginator.count == 3
    assert Paginator([1, 2, 3, 4], 3).num_pages == 2
