"""Template filters used across the portal."""

from datetime import datetime

from django import template
from django.utils import timezone

from portal import activity_text as _activity_text

register = template.Library()


@register.filter
def activity_text(activity) -> str:
    """What an activity says, in the reader's language (``portal.activity_text``).

    Load the people of a page at once first (``activity_people_load``)."""
    return _activity_text.activity_text(activity)


@register.filter
def isotime(value) -> str:
    """A moment for ``<time datetime>``: ISO 8601 in the current zone, whole seconds
    (HTML allows at most three digits of a fraction; Django's "c" format gives six)."""
    if not isinstance(value, datetime):
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.isoformat(timespec="seconds")
