"""Reads about meetings and date polls: what the viewer may see, already prefetched.

Lists annotate the viewer's own answer (``my_answer``, ``invited``) and the
answer counts in the same query, so their query count does not grow with
the number of meetings, groups or invitees.
"""

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from groups.models import Membership

from .models import DatePoll, Invitee, Meeting, PollSlot, PollVote


def _active_group_ids(user):
    return Membership.objects.filter(user=user, state=Membership.State.ACTIVE).values("group_id")


def with_viewer(meetings: QuerySet[Meeting], user) -> QuerySet[Meeting]:
    """Annotate ``invited`` and ``my_answer`` ("" when not answered or not invited)."""
    # No ordering: one invitee row per meeting and user at most, and the default
    # order would join the meeting and user tables into the subquery.
    mine = Invitee.objects.filter(meeting=OuterRef("pk"), user_id=user.pk).order_by()
    return meetings.annotate(invited=Exists(mine), my_answer=Subquery(mine.values("answer")[:1]))


def with_counts(meetings: QuerySet[Meeting]) -> QuerySet[Meeting]:
    """Annotate ``invitee_count`` and ``yes_count``, ``no_count``, ``maybe_count``."""
    return meetings.annotate(
        invitee_count=Count("invitees"),
        yes_count=Count("invitees", filter=Q(invitees__answer=Invitee.Answer.YES)),
        no_count=Count("invitees", filter=Q(invitees__answer=Invitee.Answer.NO)),
        maybe_count=Count("invitees", filter=Q(invitees__answer=Invitee.Answer.MAYBE)),
    )


# --- One group -------------------------------------------------------------


def upcoming_of_group(group, *, user) -> QuerySet[Meeting]:
    """Meetings that have not ended yet, soonest first (cancelled ones included, marked)."""
    rows = Meeting.objects.filter(group=group, ends_at__gte=timezone.now()).select_related("group")
    return with_viewer(with_counts(rows), user).order_by("starts_at", "pk")


def past_of_group(group, *, user, now=None) -> QuerySet[Meeting]:
    rows = past_rows_of_group(group, now=now).select_related("group")
    return with_viewer(with_counts(rows), user).order_by("-starts_at", "-pk")


def past_rows_of_group(group, *, now=None) -> QuerySet[Meeting]:
    """The group's past meetings, plain: what ``past_of_group`` lists, to count."""
    return Meeting.objects.filter(group=group, ends_at__lt=now or timezone.now())


def meeting_for_viewer(*, group, pk: int) -> Meeting:
    """The meeting ``pk`` of ``group``; Meeting.DoesNotExist for another group's meeting."""
    meeting = Meeting.objects.select_related(
        "created_by", "agenda_document__group", "minutes_document__group"
    ).get(group=group, pk=pk)
    meeting.group = group
    return meeting


def invitees_of(meeting: Meeting) -> list[Invitee]:
    return list(
        Invitee.objects.filter(meeting=meeting)
        .select_related("user")
        .order_by("user__full_name", "user__email")
    )


@dataclass
class AnswerSummary:
    yes: list = field(default_factory=list)
    maybe: list = field(default_factory=list)
    no: list = field(default_factory=list)
    waiting: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.yes) + len(self.maybe) + len(self.no) + len(self.waiting)


def answer_summary(invitees: list[Invitee]) -> AnswerSummary:
    summary = AnswerSummary()
    for invitee in invitees:
        getattr(summary, invitee.answer or "waiting").append(invitee)
    return summary


def polls_of_group(group, *, user) -> QuerySet[DatePoll]:
    voted = PollVote.objects.filter(poll=OuterRef("pk"), user_id=user.pk)
    return (
        DatePoll.objects.filter(group=group)
        .select_related("group", "meeting")
        .annotate(
            slot_count=Count("slots", distinct=True),
            voter_count=Count("votes__user", distinct=True),
            i_voted=Exists(voted),
        )
        .order_by("-created_at", "-pk")
    )


def poll_for_viewer(*, group, pk: int) -> DatePoll:
    """The poll ``pk`` of ``group``; DatePoll.DoesNotExist for another group's poll."""
    poll = DatePoll.objects.select_related("meeting", "created_by").get(group=group, pk=pk)
    poll.group = group
    return poll


@dataclass
class SlotColumn:
    slot: PollSlot
    yes: int = 0
    if_need_be: int = 0
    no: int = 0
    best: bool = False

    @property
    def score(self) -> tuple[int, int]:
        """Most yes first, then most "if need be"."""
        return (self.yes + self.if_need_be, self.yes)


@dataclass
class PollTable:
    columns: list[SlotColumn]
    rows: list[tuple]  # (user, [choice or "" per column])
    mine: dict[int, str]  # slot id → the viewer's choice
    waiting: list  # members who have not answered


def poll_table(poll: DatePoll, *, viewer) -> PollTable:
    """Each slot with its totals, each member with their answer per slot (three queries)."""
    slots = PollSlot.objects.filter(poll=poll).order_by("starts_at", "pk")
    columns = [SlotColumn(slot) for slot in slots]
    index = {column.slot.pk: i for i, column in enumerate(columns)}
    votes: dict[int, dict[int, str]] = {}
    voters: dict[int, object] = {}
    for vote in PollVote.objects.filter(poll=poll).select_related("user"):
        votes.setdefault(vote.user_id, {})[vote.slot_id] = vote.choice
        voters[vote.user_id] = vote.user
        column = columns[index[vote.slot_id]]
        setattr(column, vote.choice, getattr(column, vote.choice) + 1)
    members = {
        m.user_id: m.user
        for m in Membership.objects.filter(
            group_id=poll.group_id, state=Membership.State.ACTIVE
        ).select_related("user")
    }
    people = sorted({**members, **voters}.values(), key=lambda u: (u.full_name, u.email))
    rows = [
        (person, [votes.get(person.pk, {}).get(c.slot.pk, "") for c in columns])
        for person in people
        if person.pk in votes
    ]
    if columns:
        top = max(c.score for c in columns)
        if top > (0, 0):
            for column in columns:
                column.best = column.score == top
    waiting = [person for person in people if person.pk not in votes and person.pk in members]
    return PollTable(columns, rows, votes.get(viewer.pk, {}), waiting)


# --- Across the viewer's groups ------------------------------------------


def meetings_of_user(user) -> QuerySet[Meeting]:
    """Meetings of every group the user is an active member of, with their own answer."""
    rows = Meeting.objects.filter(group_id__in=_active_group_ids(user)).select_related("group")
    return with_viewer(rows, user)


def agenda_of_user(user) -> QuerySet[Meeting]:
    """Meetings that have not ended, soonest first."""
    return meetings_of_user(user).filter(ends_at__gte=timezone.now()).order_by("starts_at", "pk")


def past_of_user(user) -> QuerySet[Meeting]:
    """Meetings that have ended, latest first (cancelled ones included, marked)."""
    return meetings_of_user(user).filter(ends_at__lt=timezone.now()).order_by("-starts_at", "-pk")


def _of_groups(rows: list, groups) -> list:
    """Give each row its group from ``groups`` (read already by the page)."""
    by_pk = {group.pk: group for group in groups}
    for row in rows:
        row.group = by_pk[row.group_id]
    return rows


def next_meetings_of_user(user, *, groups, limit: int = 5) -> list[Meeting]:
    """The next scheduled meetings of ``groups``, the user's active groups (dashboard).

    The dashboard has read the groups already (``groups.selectors.groups_of_user``):
    their keys replace a membership subquery, and each meeting is given its group
    instead of joining the group's row again.
    """
    rows = with_viewer(Meeting.objects.filter(group_id__in=[g.pk for g in groups]), user)
    rows = rows.filter(ends_at__gte=timezone.now(), state=Meeting.State.SCHEDULED)
    return _of_groups(list(rows.order_by("starts_at", "pk")[:limit]), groups)


def open_polls_of_user(user, *, groups) -> list[DatePoll]:
    """Open polls of ``groups`` that the user has not answered yet (dashboard; ``groups``
    as for ``next_meetings_of_user``)."""
    voted = PollVote.objects.filter(poll=OuterRef("pk"), user_id=user.pk)
    rows = DatePoll.objects.filter(
        group_id__in=[g.pk for g in groups],
        state=DatePoll.State.OPEN,
        closes_at__gt=timezone.now(),
    ).exclude(Exists(voted))
    return _of_groups(list(rows.order_by("closes_at")[:5]), groups)


@dataclass
class Day:
    day: date
    in_month: bool
    is_today: bool
    meetings: list = field(default_factory=list)
    #: pks of the meetings that began on an earlier day and go on this day.
    continued: set = field(default_factory=set)


@dataclass
class Month:
    year: int
    month: int
    weeks: list[list[Day]]
    previous: date
    next: date

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)


def local_days(meeting: Meeting, tz) -> tuple[date, date]:
    """The first and the last day ``meeting`` takes place on in zone ``tz``.

    A meeting that ends at midnight does not take place on the day that begins then.
    """
    first = meeting.starts_at.astimezone(tz).date()
    end = meeting.ends_at.astimezone(tz)
    last = end.date() - timedelta(days=1) if end.time() == time.min else end.date()
    return first, max(first, last)


def month_of_user(user, *, year: int, month: int, tz) -> Month:
    """A Monday-first grid of the month in zone ``tz``, each day with its meetings (one query).

    A meeting over several days is on each day it spans in ``tz``; on the days
    after the first, its pk is in ``Day.continued``.
    """
    weeks_of_days = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    first_day, last_day = weeks_of_days[0][0], weeks_of_days[-1][-1]
    start = datetime.combine(first_day, time.min, tzinfo=tz)
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=tz)
    by_day: dict[date, list[Meeting]] = {}
    continued: dict[date, set[int]] = {}
    for meeting in (
        meetings_of_user(user)
        .filter(starts_at__lt=end, ends_at__gt=start)
        .order_by("starts_at", "pk")
    ):
        local_first, local_last = local_days(meeting, tz)
        day = max(local_first, first_day)
        while day <= min(local_last, last_day):
            by_day.setdefault(day, []).append(meeting)
            if day > local_first:
                continued.setdefault(day, set()).add(meeting.pk)
            day += timedelta(days=1)
    today = timezone.now().astimezone(tz).date()
    weeks = [
        [
            Day(d, d.month == month, d == today, by_day.get(d, []), continued.get(d, set()))
            for d in week
        ]
        for week in weeks_of_days
    ]
    first = date(year, month, 1)
    previous = (first - timedelta(days=1)).replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Month(year, month, weeks, previous, following)


def feed_meetings_of_user(user, *, since: datetime) -> QuerySet[Meeting]:
    """Everything a personal calendar feed holds: one query, cancelled meetings included."""
    return (
        Meeting.objects.filter(group_id__in=_active_group_ids(user), ends_at__gte=since)
        .select_related("group", "agenda_document__group")
        .order_by("starts_at", "pk")
    )
