"""The lifecycle state of a group, derived from its mandates and today's date.

``proposed → active → (expiring soon | extension requested) → extended →
expired → archived``. Nothing here writes; it reads prefetched mandates when
the selector provided them.

Term 2 exists only once the secretariat approved the extension, so a group with
a term 2 is "extended" from the approval on, even while term 1 is still in
force. "Expiring soon" and the days left count to the end of the latest term:
that is when the mandate ends.
"""

from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

PROPOSED = "proposed"
ACTIVE = "active"
EXPIRING_SOON = "expiring_soon"
EXTENSION_REQUESTED = "extension_requested"
EXTENDED = "extended"
EXPIRED = "expired"
ARCHIVED = "archived"

LABELS = {
    PROPOSED: _("Proposed"),
    ACTIVE: _("Active"),
    EXPIRING_SOON: _("Expiring soon"),
    EXTENSION_REQUESTED: _("Extension requested"),
    EXTENDED: _("Extended"),
    EXPIRED: _("Expired"),
    ARCHIVED: _("Archived"),
}
CSS = {
    PROPOSED: "muted",
    ACTIVE: "ok",
    EXPIRING_SOON: "warn",
    EXTENSION_REQUESTED: "warn",
    EXTENDED: "ok",
    EXPIRED: "danger",
    ARCHIVED: "muted",
}
#: States in which members may change things (upload, schedule, chat, join).
WRITABLE = {ACTIVE, EXPIRING_SOON, EXTENSION_REQUESTED, EXTENDED}


@dataclass(frozen=True)
class Lifecycle:
    state: str
    current: object | None  # the Mandate in force today, if any
    last: object | None  # the latest (approved) Mandate: the mandate ends with it
    days_left: int | None  # to the end of ``last``, while a term is in force
    pending_extension: int | None  # the key of the pending extension request, if any
    term_days_left: int | None = None  # to the end of ``current``

    @property
    def label(self):
        return LABELS[self.state]

    @property
    def css(self) -> str:
        return CSS[self.state]

    @property
    def writable(self) -> bool:
        return self.state in WRITABLE

    @property
    def can_request_extension(self) -> bool:
        return (
            self.current is not None
            and self.current.term == 1
            and self.last is self.current
            and self.pending_extension is None
        )


def today() -> date:
    return timezone.localdate()


def lifecycle_of(group, on: date | None = None) -> Lifecycle:
    on = on or today()
    mandates = sorted(group.mandates.all(), key=lambda m: m.term)
    if "pending_extension_pk" in group.__dict__:  # groups_with_lifecycle() read it
        pending = group.pending_extension_pk
    else:
        pending = (
            group.extension_requests.filter(state="pending").values_list("pk", flat=True).first()
        )
    last = mandates[-1] if mandates else None
    current = next((m for m in mandates if m.start_date <= on < m.end_date), None)
    term_days_left = (current.end_date - on).days if current else None
    days_left = (last.end_date - on).days if current else None

    if group.archived_at is not None:
        state = ARCHIVED
    elif last is None or on < mandates[0].start_date:
        state = PROPOSED
    elif current is None:
        state = EXPIRED
    elif pending is not None:
        state = EXTENSION_REQUESTED
    elif days_left <= settings.MANDATE_EXPIRING_SOON_DAYS:
        state = EXPIRING_SOON
    elif last.term >= 2:
        # The extension is approved: extended already, before term 2 starts.
        state = EXTENDED
    else:
        state = ACTIVE
    return Lifecycle(state, current, last, days_left, pending, term_days_left)
