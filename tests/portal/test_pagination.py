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


def test_a_list_that_fits_on_its_first_page_is_read_without_a_count(django_assert_num_queries):
    users = [UserFactory() for _ in range(3)]
    rows = type(users[0]).objects.order_by("pk")
    for number in (None, "", "1", 1):
        with django_assert_num_queries(1):  # the page's rows, no SELECT COUNT(*)
            page = Paginator(rows, 5).get_page(number)
            assert [u.pk for u in page] == [u.pk for u in users]
            assert (page.paginator.count, page.paginator.num_pages) == (3, 1)
            assert not page.has_other_pages()


def test_a_full_first_page_is_counted_and_read_once(django_assert_num_queries):
    users = [UserFactory() for _ in range(5)]
    rows = type(users[0]).objects.order_by("pk")
    with django_assert_num_queries(2):  # the first rows, then the count; not the rows again
        page = Paginator(rows, 2).get_page(None)
        assert [u.pk for u in page] == [users[0].pk, users[1].pk]
        assert page.paginator.num_pages == 3
        assert page.has_next()
    exact = Paginator(rows, 5).get_page("1")
    assert (exact.paginator.count, len(exact), exact.has_next()) == (5, 5, False)


def test_other_pages_and_bad_numbers_behave_like_djangos():
    users = [UserFactory() for _ in range(5)]
    rows = type(users[0]).objects.order_by("pk")
    assert [u.pk for u in Paginator(rows, 2).get_page("3")] == [users[4].pk]
    assert Paginator(rows, 2).get_page("99").number == 3  # past the end: the last page
    assert Paginator(rows, 2).get_page("x").number == 1
    assert [u.pk for u in Paginator(rows, 2).get_page("x")] == [users[0].pk, users[1].pk]
    empty = Paginator(rows.none(), 2).get_page(None)
    assert (empty.paginator.count, list(empty), empty.number) == (0, [], 1)
    # With orphans the first page may hold more than a page: Django's own path.
    assert len(Paginator(rows, 4, orphans=1).get_page(None)) == 5
