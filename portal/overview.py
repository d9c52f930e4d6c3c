"""The secretariat's yearly overview: groups, meetings and members per calendar year,
and the members per country today.

Every figure is counted by the database, in five queries whatever the number of
groups, meetings or members. Years run from the start of the first mandate to
the current year, which counts up to today. Calendar years are taken in the
current time zone.
"""

from dataclasses import dataclass
from datetime import date, datetime, time

from django.db.models import Count, Exists, Min, OuterRef, Q
from django.db.models.functions import ExtractYear
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from groups.models import Mandate, Membership
from meetings.models import Meeting

from .csvexport import CsvTable

#: The code under which members without a country are counted.
UNKNOWN_COUNTRY = "unknown"


@dataclass(frozen=True)
class YearFigures:
    year: int
    groups_active: int
    meetings_held: int
    active_members: int


@dataclass(frozen=True)
class CountryFigures:
    code: str  # ISO 3166 code, or UNKNOWN_COUNTRY
    name: str
    members: int


@dataclass(frozen=True)
class Overview:
    as_of: date
    years: list[YearFigures]
    countries: list[CountryFigures]

    @property
    def total_current_members(self) -> int:
        return sum(c.members for c in self.countries)


def _years(today: date) -> list[int]:
    first = Mandate.objects.filter(start_date__lte=today).aggregate(first=Min("start_date"))
    if first["first"] is None:
        return []
    return list(range(first["first"].year, today.year + 1))


def _term_in_force_during(year: int, today: date, prefix: str = "") -> Q:
    """A term in force on at least one day of the year, up to today.

    A term is in force from its start to the day before its end (``groups.lifecycle``).
    """
    return Q(
        **{
            f"{prefix}start_date__lte": min(date(year, 12, 31), today),
            f"{prefix}end_date__gt": date(year, 1, 1),
        }
    )


def _groups_active(years: list[int], today: date) -> dict[int, int]:
    """Groups with a term in force during the year."""
    counts = Mandate.objects.aggregate(
        **{
            f"y{year}": Count("group", distinct=True, filter=_term_in_force_during(year, today))
            for year in years
        }
    )
    return {year: counts[f"y{year}"] for year in years}


def _meetings_held(now: datetime) -> dict[int, int]:
    """Meetings that took place (scheduled, not cancelled, already over), by year of start."""
    rows = (
        Meeting.objects.filter(state=Meeting.State.SCHEDULED, ends_at__lt=now)
        .annotate(year=ExtractYear("starts_at"))
        .values("year")
        .annotate(held=Count("pk"))
        .order_by()
    )
    return {row["year"]: row["held"] for row in rows}


def _active_members(years: list[int], now: datetime) -> dict[int, int]:
    """Distinct people with a membership (any role) active during the year, in a group
    active that year: members of a group that has expired but is not archived yet keep
    an active membership, and do not count for the years after its end."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate(now)

    def starts(year: int) -> datetime:
        return datetime.combine(date(year, 1, 1), time.min, tzinfo=zone)

    counts = Membership.objects.filter(started_at__isnull=False).aggregate(
        **{
            f"y{year}": Count(
                "user",
                distinct=True,
                filter=Q(started_at__lt=min(starts(year + 1), now))
                & (Q(ended_at__isnull=True) | Q(ended_at__gt=starts(year)))
                # One join on the group's terms: the row's term must be in force that year.
                & _term_in_force_during(year, today, prefix="group__mandates__"),
            )
            for year in years
        }
    )
    return {year: counts[f"y{year}"] for year in years}


def members_per_country(today: date | None = None) -> list[CountryFigures]:
    """People with an active membership in a group working today, by their profile's country.

    A group works today when a term is in force and it is not archived. People who
    gave no country are counted under :data:`UNKNOWN_COUNTRY`, listed last.
    """
    today = today or timezone.localdate()
    in_force = Mandate.objects.filter(
        group=OuterRef("group"), start_date__lte=today, end_date__gt=today
    )
    rows = (
        Membership.objects.filter(
            Exists(in_force),
            state=Membership.State.ACTIVE,
            group__archived_at__isnull=True,
            user__is_active=True,
        )
        .values("user__country")
        .annotate(members=Count("user", distinct=True))
        .order_by()
    )
    figures = [
        CountryFigures(
            code=row["user__country"] or UNKNOWN_COUNTRY,
            name=countries.name(row["user__country"]) if row["user__country"] else _("Unknown"),
            members=row["members"],
        )
        for row in rows
    ]
    return sorted(figures, key=lambda f: (f.code == UNKNOWN_COUNTRY, -f.members, f.name))


def yearly_overview(*, now: datetime | None = None) -> Overview:
    """All the figures of the overview page, oldest year first."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    years = _years(today)
    if years:
        groups = _groups_active(years, today)
        meetings = _meetings_held(now)
        members = _active_members(years, now)
    else:
        groups = meetings = members = {}
    return Overview(
        as_of=today,
        years=[
            YearFigures(
                year=year,
                groups_active=groups.get(year, 0),
                meetings_held=meetings.get(year, 0),
                active_members=members.get(year, 0),
            )
            for year in years
        ],
        countries=members_per_country(today),
    )


OVERVIEW_COLUMNS = ("figure", "year", "country", "country_name", "value", "as_of")


def overview_table(overview: Overview) -> CsvTable:
    """The overview in long form, one figure a row, ready for a pivot table.

    ``groups_active``, ``meetings_held`` and ``active_members`` have a year;
    ``members_by_country`` is today's count and has a country instead.
    """
    as_of = overview.as_of

    def rows():
        for row in overview.years:
            yield ["groups_active", row.year, "", "", row.groups_active, as_of]
            yield ["meetings_held", row.year, "", "", row.meetings_held, as_of]
            yield ["active_members", row.year, "", "", row.active_members, as_of]
        for country in overview.countries:
            yield ["members_by_country", "", country.code, country.name, country.members, as_of]

    return CsvTable("overview", OVERVIEW_COLUMNS, rows())
