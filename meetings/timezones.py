"""Wall-clock times in a named zone, turned into UTC strictly.

A local time that the clocks skip (spring forward) does not exist; one they
pass twice (fall back) is ambiguous. Both are refused with a message that
says what happens that day, instead of guessing: ``zoneinfo`` tells them
apart by comparing the offsets of ``fold=0`` and ``fold=1``.
"""

import functools
import zoneinfo
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext as _


@functools.cache
def known_zones() -> frozenset[str]:
    """The IANA zone names (reading them scans the zone database: once per process)."""
    return frozenset(zoneinfo.available_timezones())


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone called ``name``; a ValidationError when there is none."""
    try:
        if name and name in known_zones():
            return zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        pass
    raise ValidationError(
        _("“%(value)s” is not a known time zone.") % {"value": name}, code="unknown_zone"
    )


def local_to_utc(local: datetime, zone_name: str) -> datetime:
    """The UTC moment of the wall-clock time ``local`` in ``zone_name``.

    ``local`` may already be aware: it is then only converted. Raises a
    ValidationError (code ``nonexistent_time`` or ``ambiguous_time``) for a
    naive time that a daylight-saving change skips or repeats.
    """
    tz = zone(zone_name)
    if local.tzinfo is not None and local.utcoffset() is not None:
        return local.astimezone(UTC)
    local = local.replace(microsecond=0)
    early = local.replace(tzinfo=tz, fold=0)
    late = local.replace(tzinfo=tz, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early.astimezone(UTC)
    params = {
        "time": local.strftime("%H:%M"),
        "date": formats.date_format(local.date(), "DATE_FORMAT"),
        "zone": zone_name,
    }
    if early.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != local:
        raise ValidationError(
            _(
                "%(time)s does not exist on %(date)s in %(zone)s: the clocks move forward "
                "for summer time at that hour. Choose another time."
            )
            % params,
            code="nonexistent_time",
        )
    raise ValidationError(
        _(
            "%(time)s happens twice on %(date)s in %(zone)s: the clocks go back at the end "
            "of summer time. Choose a time outside that hour so that nobody reads it wrong."
        )
        % params,
        code="ambiguous_time",
    )


def utc_to_local(moment: datetime, zone_name: str) -> datetime:
    """The naive wall-clock time of an aware ``moment`` in ``zone_name`` (for form fields)."""
    return moment.astimezone(zone(zone_name)).replace(tzinfo=None)
