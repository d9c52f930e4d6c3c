"""Reads for the secretariat's CSV exports: groups, mandates, memberships.

Each function returns a :class:`~portal.csvexport.CsvTable` whose rows are read
lazily with ``iterator()`` when the download is streamed: one query for the
mandates and the memberships whatever their number, three per
:data:`GROUP_CHUNK` groups (the groups with their mandates and pending
requests, prefetched chunk by chunk). Column names are stable identifiers, so
that spreadsheets and scripts built on an export keep working; times are in
UTC, dates in ISO form.
"""

from collections.abc import Iterator
from datetime import date

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_countries import countries

from accounts.models import DELETED_EMAIL_DOMAIN
from portal.csvexport import CsvTable

from .models import Mandate, Membership
from .selectors import groups_with_lifecycle

#: Rows fetched per round trip when streaming.
CHUNK = 2000
#: Groups read per chunk; each chunk also prefetches mandates and pending requests.
GROUP_CHUNK = 2000

GROUP_COLUMNS = (
    "name",
    "slug",
    "kind",
    "state",
    "standing_membership",
    "current_term",
    "current_term_start",
    "current_term_end",
    "mandate_start",
    "mandate_end",
    "terms",
    "active_members",
    "created_at_utc",
    "closed_at_utc",
    "close_reason",
    "archived_at_utc",
    "archived_by",
)

MANDATE_COLUMNS = (
    "group",
    "group_slug",
    "term",
    "start",
    "end",
    "status",
    "extension_state",
    "extension_requested_by",
    "extension_requested_at_utc",
    "extension_justification",
    "extension_decided_by",
    "extension_decided_at_utc",
    "extension_decision_reason",
)

MEMBERSHIP_COLUMNS = (
    "group",
    "group_slug",
    "member",
    "email",
    "country",
    "country_name",
    "role",
    "state",
    "created_at_utc",
    "started_at_utc",
    "ended_at_utc",
    "end_reason",
)


def _person(user) -> str:
    return user.display_name if user is not None else ""


def _person_of(name: str | None, email: str | None) -> str:
    if email and email.endswith("@" + DELETED_EMAIL_DOMAIN):
        return str(_("Former member"))
    return name or email or ""


def mandate_status(start: date, end: date, *, on: date) -> str:
    """``upcoming``, ``in_force`` or ``ended``: a term is in force from its start to the day
    before its end, as in ``groups.lifecycle``."""
    if on < start:
        return "upcoming"
    return "in_force" if on < end else "ended"


def groups_table() -> CsvTable:
    """Every group (archived ones too) with its lifecycle state and mandate dates."""
    groups = (
        groups_with_lifecycle()
        .select_related("archived_by")
        .annotate(
            active_members=Count(
                "memberships", filter=Q(memberships__state=Membership.State.ACTIVE)
            )
        )
        .order_by("name", "pk")
    )

    def rows() -> Iterator[list]:
        for group in groups.iterator(chunk_size=GROUP_CHUNK):
            life = group.lifecycle
            mandates = sorted(group.mandates.all(), key=lambda m: m.term)
            current = life.current
            yield [
                group.name,
                group.slug,
                group.kind,
                life.state,
                group.standing_membership,
                current.term if current else None,
                current.start_date if current else None,
                current.end_date if current else None,
                mandates[0].start_date if mandates else None,
                mandates[-1].end_date if mandates else None,
                len(mandates),
                group.active_members,
                group.created_at,
                group.closed_at,
                group.close_reason,
                group.archived_at,
                _person(group.archived_by),
            ]

    return CsvTable("groups", GROUP_COLUMNS, rows())


def mandates_table() -> CsvTable:
    """One row per term and extension request of it (a term without request: one row)."""
    today = timezone.localdate()
    # values() across the reverse relation is a LEFT JOIN: terms without a request stay.
    terms = Mandate.objects.order_by(
        "group__name", "group_id", "term", "extension_requests__requested_at"
    ).values_list(
        "group__name",
        "group__slug",
        "term",
        "start_date",
        "end_date",
        "extension_requests__state",
        "extension_requests__requested_by__full_name",
        "extension_requests__requested_by__email",
        "extension_requests__requested_at",
        "extension_requests__justification",
        "extension_requests__decided_by__full_name",
        "extension_requests__decided_by__email",
        "extension_requests__decided_at",
        "extension_requests__decision_reason",
    )

    def rows() -> Iterator[list]:
        for (
            name,
            slug,
            term,
            start,
            end,
            state,
            asked_name,
            asked_email,
            asked_at,
            justification,
            decider_name,
            decider_email,
            decided_at,
            reason,
        ) in terms.iterator(chunk_size=CHUNK):
            yield [
                name,
                slug,
                term,
                start,
                end,
                mandate_status(start, end, on=today),
                state,
                _person_of(asked_name, asked_email),
                asked_at,
                justification,
                _person_of(decider_name, decider_email),
                decided_at,
                reason,
            ]

    return CsvTable("mandates", MANDATE_COLUMNS, rows())


def memberships_table() -> CsvTable:
    """The whole membership history: every request, invitation and stint, in every group."""
    memberships = Membership.objects.order_by(
        "group__name", "group_id", "user__full_name", "user__email", "created_at", "pk"
    ).values_list(
        "group__name",
        "group__slug",
        "user__full_name",
        "user__email",
        "user__country",
        "role",
        "state",
        "created_at",
        "started_at",
        "ended_at",
        "end_reason",
    )

    def rows() -> Iterator[list]:
        for (
            group,
            slug,
            name,
            email,
            country,
            role,
            state,
            created_at,
            started_at,
            ended_at,
            end_reason,
        ) in memberships.iterator(chunk_size=CHUNK):
            yield [
                group,
                slug,
                name,
                email,
                country,
                countries.name(country) if country else "",
                role,
                state,
                created_at,
                started_at,
                ended_at,
                end_reason,
            ]

    return CsvTable("memberships", MEMBERSHIP_COLUMNS, rows())
