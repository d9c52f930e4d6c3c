"""Site-wide reads: activity timelines and notifications."""

import itertools
from datetime import date, datetime, time

from django.db.models import QuerySet
from django.utils import timezone

from .activity_text import activity_people_load, activity_text
from .csvexport import CsvTable
from .models import Activity, Notification

#: Rows read (and people looked up) per query when exporting the activity log.
ACTIVITY_EXPORT_BATCH = 2000
ACTIVITY_COLUMNS = ("when_utc", "group", "actor", "action", "summary", "text")


def activities(
    *, group=None, verb: str = "", since: date | None = None, until: date | None = None
) -> QuerySet[Activity]:
    rows = Activity.objects.select_related("actor", "group")
    if group is not None:
        rows = rows.filter(group=group)
    if verb:
        rows = rows.filter(verb__icontains=verb)
    tz = timezone.get_current_timezone()
    if since:
        rows = rows.filter(created_at__gte=datetime.combine(since, time.min, tzinfo=tz))
    if until:
        rows = rows.filter(created_at__lte=datetime.combine(until, time.max, tzinfo=tz))
    return rows.order_by("-created_at", "-pk")


def activity_table(rows: QuerySet[Activity]) -> CsvTable:
    """The activity log as a CSV table, one query per batch of rows.

    ``summary`` is the English text recorded at the time (stable, for scripts);
    ``text`` is the same in the language of whoever downloads the file.
    """

    def lines():
        batches = itertools.batched(
            rows.iterator(chunk_size=ACTIVITY_EXPORT_BATCH), ACTIVITY_EXPORT_BATCH
        )
        for batch in batches:
            for row in activity_people_load(batch):
                yield (
                    row.created_at,
                    row.group.slug if row.group else "",
                    row.actor.email if row.actor else "",
                    row.verb,
                    row.summary,
                    activity_text(row),
                )

    return CsvTable("activity", ACTIVITY_COLUMNS, lines())


def notifications_of(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
