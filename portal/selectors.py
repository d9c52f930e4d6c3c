"""Site-wide reads: activity timelines and notifications."""

from datetime import date, datetime, time

from django.db.models import QuerySet
from django.utils import timezone

from .models import Activity, Notification


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


def notifications_of(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at", "-pk")


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
