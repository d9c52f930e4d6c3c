"""Site-wide reads: activity timelines and notifications."""

import itertools
from datetime import date, datetime, time

from django.db.models import Q, QuerySet
from django.utils import timezone

from .activity_text import activity_people_load, activity_text
from .csvexport import CsvTable
from .models import Activity, Notification

#: Rows read (and people looked up) per query when exporting the activity log.
ACTIVITY_EXPORT_BATCH = 2000
ACTIVITY_COLUMNS = ("when_utc", "group", "actor", "action", "summary", "text")
#: Notifications per page of the notification list.
NOTIFICATIONS_PER_PAGE = 30


def activities(
    *,
    group=None,
    verb: str = "",
    since: date | None = None,
    until: date | None = None,
    with_group: bool = True,
) -> QuerySet[Activity]:
    """The activity log, newest first.

    ``with_group=False`` leaves out the join to the group's row, for a page of one
    group whose rows then get that group from ``activity_people_load(…, group=)``.
    """
    rows = Activity.objects.select_related("actor", *(["group"] if with_group else []))
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


def notification_page_number(note: Notification) -> int:
    """The page of its owner's notification list (``notifications_of``) that shows ``note``."""
    newer = Q(created_at__gt=note.created_at) | Q(created_at=note.created_at, pk__gt=note.pk)
    before = notifications_of(note.user_id).filter(newer).count()
    return before // NOTIFICATIONS_PER_PAGE + 1


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def navigation_facts(user) -> tuple[bool, int]:
    """Whether ``user`` is in the secretariat group, and their unread notifications.

    What every signed-in page's navigation shows, read in one query (the ORM
    form took two, and building them cost about 1 ms of CPU per page). Both are
    kept on the user object for the rest of the request: the permission rules
    (``accounts.rules.is_secretariat``) ask first, the navigation later, and
    ``services.notifications_mark_read`` forgets the count it changes.
    """
    cached = getattr(user, "_is_secretariat", None), getattr(user, "_unread_notifications", None)
    if None not in cached:
        return cached
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    memberships = get_user_model()._meta.get_field("groups").remote_field.through._meta.db_table
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS (SELECT 1 FROM {qn(memberships)} m"  # noqa: S608 (table names only)
            f" JOIN {qn(Group._meta.db_table)} g ON g.id = m.group_id"
            " WHERE m.user_id = %s AND g.name = %s),"
            f" (SELECT COUNT(*) FROM {qn(Notification._meta.db_table)}"
            " WHERE user_id = %s AND read_at IS NULL)",
            [user.pk, settings.SECRETARIAT_GROUP, user.pk],
        )
        in_group, unread = cursor.fetchone()
    if cached[0] is None:
        from accounts.rules import secretariat_remember

        secretariat_remember(user, in_group=in_group)
    user._unread_notifications = unread
    return user._is_secretariat, unread
