"""Meetings and polls built through the real services, on a frozen clock."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine
from django.utils import timezone

from meetings import services
from tests.groups.factories import coordinator_of

BRUSSELS = ZoneInfo("Europe/Brussels")
LISBON = ZoneInfo("Europe/Lisbon")
HELSINKI = ZoneInfo("Europe/Helsinki")
UTC = ZoneInfo("UTC")

#: "Now" in most meeting tests: Monday 1 March 2027, 09:00 in Brussels.
#: Summer time starts in Europe on Sunday 28 March 2027 (01:00 UTC) and ends on
#: Sunday 31 October 2027 (01:00 UTC).
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=BRUSSELS)


def frozen(moment: datetime = NOW):
    return time_machine.travel(moment, tick=False)


def local(year, month, day, hour=10, minute=0) -> datetime:
    """A naive wall-clock time, as a form gives it."""
    return datetime(year, month, day, hour, minute)


def make_meeting(
    group,
    *,
    actor=None,
    starts_at=None,
    ends_at=None,
    timezone_name="Europe/Brussels",
    title="Spring plenary",
    **kwargs,
):
    actor = actor or coordinator_of(group)
    starts_at = starts_at or (timezone.now() + timedelta(days=7)).replace(
        minute=0, second=0, microsecond=0
    )
    ends_at = ends_at or starts_at + timedelta(hours=2)
    return services.meeting_schedule(
        actor=actor,
        group=group,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        timezone_name=timezone_name,
        **kwargs,
    )


def make_poll(
    group, *, actor=None, slots=None, closes_at=None, timezone_name="Europe/Brussels", **kw
):
    actor = actor or coordinator_of(group)
    now = (
        timezone.now()
        .astimezone(ZoneInfo(timezone_name))
        .replace(tzinfo=None, second=0, microsecond=0)
    )
    slots = slots or [
        (
            now.replace(hour=10, minute=0) + timedelta(days=d),
            now.replace(hour=12, minute=0) + timedelta(days=d),
        )
        for d in (10, 11, 12)
    ]
    closes_at = closes_at or now + timedelta(days=5)
    return services.poll_create(
        actor=actor,
        group=group,
        title=kw.pop("title", "Autumn workshop"),
        timezone_name=timezone_name,
        closes_at=closes_at,
        slots=slots,
        **kw,
    )
