"""The database refuses overlapping terms of one group (triggers of migration 0005).

Runs on SQLite locally and on PostgreSQL in CI: both must raise IntegrityError.
"""

from datetime import date

import pytest
from django.db import IntegrityError, connection, transaction

from groups.models import Mandate
from tests.groups.factories import make_group

pytestmark = pytest.mark.django_db

T1_START, T1_END = date(2026, 1, 10), date(2028, 1, 10)


@pytest.fixture
def group(settings):
    settings.MANDATE_START_MAX_PAST_DAYS = 10_000  # absolute dates, whatever today is
    return make_group(start=T1_START)


def terms(group) -> list[tuple[int, date, date]]:
    return list(group.mandates.order_by("term").values_list("term", "start_date", "end_date"))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2027, 6, 1), date(2029, 6, 1)),  # starts inside term 1
        (date(2025, 6, 1), date(2026, 6, 1)),  # ends inside term 1
        (date(2025, 1, 1), date(2030, 1, 1)),  # covers term 1
        (date(2026, 5, 1), date(2026, 6, 1)),  # lies inside term 1
        (T1_START, T1_END),  # the same dates
    ],
    ids=["starts-inside", "ends-inside", "covers", "inside", "same"],
)
def test_inserting_an_overlapping_term_is_refused_by_the_database(group, start, end):
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.create(group=group, term=2, start_date=start, end_date=end)
    assert terms(group) == [(1, T1_START, T1_END)]


def test_terms_that_touch_are_allowed_and_other_groups_are_not_concerned(group):
    Mandate.objects.create(group=group, term=2, start_date=T1_END, end_date=date(2030, 1, 10))
    other = make_group(start=T1_START)  # the same dates in another group
    assert terms(other) == [(1, T1_START, T1_END)]
    assert terms(group) == [(1, T1_START, T1_END), (2, T1_END, date(2030, 1, 10))]


def test_moving_term_one_into_term_two_is_refused_by_the_database(group):
    Mandate.objects.create(group=group, term=2, start_date=T1_END, end_date=date(2030, 1, 10))
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.filter(group=group, term=1).update(end_date=date(2028, 6, 1))
    assert terms(group)[0] == (1, T1_START, T1_END)


def test_moving_term_two_into_term_one_is_refused_by_the_database(group):
    Mandate.objects.create(group=group, term=2, start_date=T1_END, end_date=date(2030, 1, 10))
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.filter(group=group, term=2).update(start_date=date(2027, 12, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        term2 = Mandate.objects.get(group=group, term=2)
        term2.start_date = date(2025, 1, 1)
        term2.end_date = date(2026, 2, 1)  # now before term 1 but ending inside it
        term2.save()
    assert terms(group)[1] == (2, T1_END, date(2030, 1, 10))


def test_moving_a_term_to_a_group_whose_term_it_overlaps_is_refused(group):
    other = make_group(start=date(2027, 6, 1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.filter(group=other).update(group=group, term=2)
    assert terms(other) == [(1, date(2027, 6, 1), date(2029, 6, 1))]


def test_a_term_may_be_shortened_or_moved_where_it_overlaps_nothing(group):
    Mandate.objects.filter(group=group, term=1).update(end_date=date(2027, 1, 10))
    Mandate.objects.create(
        group=group, term=2, start_date=date(2027, 1, 10), end_date=date(2029, 1, 10)
    )
    assert terms(group) == [
        (1, T1_START, date(2027, 1, 10)),
        (2, date(2027, 1, 10), date(2029, 1, 10)),
    ]


def test_the_refusal_names_the_rule():
    """The message of the trigger says what was refused (shown in logs, not to users)."""
    group = make_group()
    start = group.mandates.get().start_date
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        Mandate.objects.create(group=group, term=2, start_date=start, end_date=date(2099, 1, 1))
    assert "must not overlap" in str(excinfo.value), connection.vendor
