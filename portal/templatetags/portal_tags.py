"""Template filters used across the portal."""

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def isotime(value) -> str:
    """A moment for ``<time datetime>``: ISO 8601 in the current zone, whole seconds
    (HTML allows at most three digits of a fraction; Django's "c" format gives six)."""
    if not isinstance(value, datetime):
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.isoformat(timespec="seconds")
