"""Showing meeting times: in the viewer's zone, with the zone named."""

from django import template
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _

from ..forms import slot_label, span_label
from ..timezones import zone

register = template.Library()


@register.simple_tag
def when(item, *, short: bool = False):
    """Start–end of a meeting or slot in the active zone, the zone named, and the zone it
    was planned in when that differs (``short`` leaves that out)."""
    current = timezone.get_current_timezone()
    start, end = item.starts_at.astimezone(current), item.ends_at.astimezone(current)
    html = format_html(
        '<time datetime="{}">{}</time> <span class="zone">{}</span>',
        item.starts_at.isoformat(),
        span_label(start, end),
        getattr(current, "key", str(current)),
    )
    planned = getattr(item, "timezone", "")
    if not short and planned and planned != getattr(current, "key", ""):
        tz = zone(planned)
        html = format_html(
            '{} <span class="muted">({})</span>',
            html,
            _("%(time)s in %(zone)s")
            % {
                "time": span_label(item.starts_at.astimezone(tz), item.ends_at.astimezone(tz)),
                "zone": planned,
            },
        )
    return html


@register.simple_tag
def moment(value):
    """One instant (a poll's closing time) in the active zone, the zone named."""
    current = timezone.get_current_timezone()
    local = value.astimezone(current)
    return format_html(
        '<time datetime="{}">{}, {}</time> <span class="zone">{}</span>',
        value.isoformat(),
        formats.date_format(local, "D j M Y"),
        formats.time_format(local, "H:i"),
        getattr(current, "key", str(current)),
    )


@register.filter
def slot_text(slot) -> str:
    return slot_label(slot)


@register.filter
def get_item(mapping, key):
    return mapping.get(key, "") if mapping else ""
