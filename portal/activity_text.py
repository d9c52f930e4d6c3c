"""What an activity says, rendered when it is shown, in the reader's language.

A service records an activity with a ``verb`` and the facts of it in ``data``
(ids of the people concerned, titles, numbers, dates); :data:`MESSAGES` holds
one translatable message per verb, with named placeholders filled from those
facts. People are named through their user id, looked up when the text is
shown, so a deleted account reads "Former member" without rewriting anything.

The stored ``summary`` stays the English text of the moment, for logs, the
audit CSV and the archive package. It is also what an activity shows when its
verb has no message or its data lack a fact the message needs (rows recorded
before the message existed).

Placeholders are the keys of ``data``, formatted by key (see :data:`PERSON_KEYS`
and ``_FORMATS``), plus ``actor`` and ``group`` from the row's foreign keys.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.template.defaultfilters import filesizeformat
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from .models import Activity

#: Keys of ``data`` that hold the id of a person; shown as that person's name.
PERSON_KEYS = frozenset({"member", "user", "author"})


@dataclass(frozen=True)
class ActivityMessage:
    """The message of one verb.

    ``variants`` are ``(key, value, text)``: ``text`` is used instead of ``text``
    when ``data[key] == value``. The key must be in ``data``; a row without it
    (recorded before the variant existed) shows its stored summary.
    ``fields_of`` names the model whose field labels a ``changed`` list shows.
    """

    text: Promise
    variants: tuple[tuple[str, Any, Promise], ...] = ()
    fields_of: str = ""

    def texts(self) -> list[Promise]:
        return [self.text, *(text for _key, _value, text in self.variants)]

    def choose(self, data: dict) -> Promise:
        for key, value, text in self.variants:
            if data[key] == value:
                return text
        return self.text


M = ActivityMessage

MESSAGES: dict[str, ActivityMessage] = {
    # Accounts and the secretariat
    "account.deleted": M(_("An account was deleted")),
    "secretariat.granted": M(_("%(user)s joined the secretariat")),
    "secretariat.revoked": M(_("%(user)s left the secretariat")),
    "calendar.feed_regenerated": M(_("Calendar feed renewed")),
    # Groups and mandates
    "group.created": M(_("Group “%(name)s” created, term 1 from %(start_date)s")),
    "group.updated": M(_("Group details changed: %(changed)s"), fields_of="groups.ExpertGroup"),
    "group.closed": M(
        _("Group closed early: term %(term_ended)s ends on %(end_date)s; %(terms_cancelled)s"),
        variants=(
            (
                "terms_cancelled",
                [],
                _("Group closed early: term %(term_ended)s ends on %(end_date)s"),
            ),
        ),
    ),
    "group.archived": M(_("Group archived")),
    "mandate.extension_requested": M(_("Extension of the mandate requested")),
    "mandate.extension_approved": M(_("Extension approved")),
    "mandate.extension_refused": M(_("Extension refused")),
    # Memberships
    "membership.requested": M(_("%(member)s asked to join")),
    "membership.joined": M(
        _("%(member)s joined"),
        variants=(("by_invitation", True, _("%(member)s joined by invitation")),),
    ),
    "membership.declined": M(_("Request of %(member)s declined")),
    "membership.left": M(_("%(member)s left the group")),
    "membership.removed": M(_("%(member)s removed")),
    "membership.role_changed": M(
        _("%(member)s is now a coordinator"),
        variants=(("role", "member", _("%(member)s is now a member")),),
    ),
    "membership.coordinator_appointed": M(_("%(member)s appointed coordinator")),
    "membership.confirmed": M(_("%(member)s confirmed membership for term 2")),
    "membership.lapsed": M(_("%(member)s did not confirm for term 2")),
    "membership.invited": M(
        _("%(email)s invited"),
        # An invitee with an account is named, and keeps no e-mail address here.
        variants=(("email", None, _("%(member)s invited")),),
    ),
    "membership.invitation_declined": M(_("%(member)s declined the invitation")),
    # Chat
    "chat.message_removed": M(_("Chat message #%(seq)s by %(author)s removed")),
    "chat.retention_deleted": M(
        ngettext_lazy(
            "%(messages)s chat message deleted after the retention period of %(days)s days",
            "%(messages)s chat messages deleted after the retention period of %(days)s days",
            "messages",
        )
    ),
    # Documents
    "document.folder_created": M(_("Folder “%(name)s” created")),
    "document.uploaded": M(_("Document “%(title)s” uploaded")),
    "document.version_added": M(_("Version %(version)s of “%(title)s” uploaded")),
    "document.binned": M(_("Document “%(title)s” moved to the bin")),
    "document.restored": M(_("Document “%(title)s” restored from the bin")),
    "document.purged": M(
        ngettext_lazy(
            "Document “%(title)s” deleted for good with %(versions)s version",
            "Document “%(title)s” deleted for good with %(versions)s versions",
            "versions",
        )
    ),
    "document.retention_purged": M(
        ngettext_lazy(
            "Document “%(title)s” purged after %(days)s day in the bin",
            "Document “%(title)s” purged after %(days)s days in the bin",
            "days",
        )
    ),
    # Meetings and date polls
    "meeting.scheduled": M(_("Meeting “%(title)s” scheduled for %(start)s")),
    "meeting.updated": M(
        _("Meeting “%(title)s” changed: %(changed)s"),
        variants=(("changed", [], _("Invitees of meeting “%(title)s” changed")),),
        fields_of="meetings.Meeting",
    ),
    "meeting.cancelled": M(_("Meeting “%(title)s” cancelled")),
    "meeting.attendance_recorded": M(_("Attendance of “%(title)s” recorded")),
    "meeting.minutes_saved": M(_("Minutes of “%(title)s” saved")),
    "poll.created": M(
        ngettext_lazy(
            "Date poll “%(title)s” opened with %(slots)s slot",
            "Date poll “%(title)s” opened with %(slots)s slots",
            "slots",
        )
    ),
    "poll.decided": M(_("Date poll “%(title)s” decided: %(slot)s")),
    "poll.cancelled": M(_("Date poll “%(title)s” cancelled")),
    # Archive packages
    "archive.requested": M(
        _("Archive package requested"),
        variants=(
            (
                "all_versions",
                True,
                _("Archive package requested with every version of every document"),
            ),
        ),
    ),
    "archive.built": M(
        ngettext_lazy(
            "Archive package ready: %(files)s file, %(size)s",
            "Archive package ready: %(files)s files, %(size)s",
            "files",
        )
    ),
    "archive.verified": M(
        ngettext_lazy(
            "Archive package checked: %(files)s file matches the manifest",
            "Archive package checked: %(files)s files match the manifest",
            "files",
        )
    ),
    "archive.damaged": M(
        ngettext_lazy(
            "Archive package damaged: %(problems)s problem",
            "Archive package damaged: %(problems)s problems",
            "problems",
        )
    ),
}

del M


# --- Formatting the facts ----------------------------------------------------


def _person(value, people: dict) -> str:
    user = people.get(value) if isinstance(value, int) else None
    return user.display_name if user is not None else gettext("Former member")


def _moment(value: str, _message) -> str:
    return formats.date_format(timezone.localtime(datetime.fromisoformat(value)), "DATETIME_FORMAT")


def _day(value: str, _message) -> str:
    return formats.date_format(date.fromisoformat(value), "DATE_FORMAT")


def _size(value: int, _message) -> str:
    return str(filesizeformat(value))


def _fields(value: list, message: ActivityMessage) -> str:
    model = apps.get_model(message.fields_of) if message.fields_of else None
    labels = []
    for name in value:
        try:
            labels.append(str(model._meta.get_field(name).verbose_name) if model else name)
        except FieldDoesNotExist:
            labels.append(name)
    return ", ".join(labels)


def _terms(value: list, _message) -> str:
    return ", ".join(
        gettext("term %(term)s (%(start_date)s – %(end_date)s) cancelled")
        % {
            "term": term["term"],
            "start_date": _day(term["start_date"], None),
            "end_date": _day(term["end_date"], None),
        }
        for term in value
    )


def _role(value: str, _message) -> str:
    from groups.models import Membership

    return str(Membership.Role(value).label)


#: How a fact of ``data`` is shown, by key; other facts are shown as stored.
_FORMATS = {
    "start": _moment,
    "slot": _moment,
    "start_date": _day,
    "end_date": _day,
    "size": _size,
    "changed": _fields,
    "terms_cancelled": _terms,
    "role": _role,
}


class _Params(dict):
    """The placeholders of one activity, formatted on first use.

    A dict, so that ``%`` and the plural messages of ``ngettext_lazy`` accept it;
    a fact missing from ``data`` raises ``KeyError``.
    """

    def __init__(self, activity: Activity, message: ActivityMessage, people: dict):
        super().__init__()
        self.activity, self.message, self.people = activity, message, people

    def __missing__(self, key: str):
        activity = self.activity
        if key == "actor":
            value = str(activity.actor) if activity.actor_id else gettext("Former member")
        elif key == "group":
            value = activity.group.name if activity.group_id else ""
        else:
            raw = activity.data[key]
            try:
                if key in PERSON_KEYS:
                    value = _person(raw, self.people)
                elif key in _FORMATS:
                    value = _FORMATS[key](raw, self.message)
                else:
                    value = raw
            except (TypeError, AttributeError) as exc:
                # Not a TypeError: the plural messages would swallow it.
                raise ValueError(f"activity {activity.pk}: bad {key!r}") from exc
        self[key] = value
        return value


# --- Rendering -----------------------------------------------------------------


def activity_people_load(rows: Iterable[Activity], *, group=None) -> list[Activity]:
    """The rows as a list, with the people their texts name looked up in one query.

    Call it on a page (or a batch) of rows before showing their texts, so a
    timeline costs the same number of queries however many rows it shows.
    ``group``: the group the rows belong to, read already by the page; each row
    of it is given that object (for rows read without the join to the group).
    """
    rows = list(rows)
    if group is not None:
        for row in rows:
            if row.group_id == group.pk:
                row.group = group
    ids = {
        value
        for row in rows
        for key, value in (row.data or {}).items()
        if key in PERSON_KEYS and isinstance(value, int) and not isinstance(value, bool)
    }
    people = {}
    if ids:
        people = (
            get_user_model().objects.only("pk", "full_name", "email", "deleted_at").in_bulk(ids)
        )
    for row in rows:
        row._activity_people = people
    return rows


def activity_message(activity: Activity) -> str | None:
    """The registered message of the activity in the active language, or None.

    None when the verb has no message or ``data`` lacks a fact it needs.
    """
    message = MESSAGES.get(activity.verb)
    data = activity.data if isinstance(activity.data, dict) else {}
    if message is None:
        return None
    people = getattr(activity, "_activity_people", None)
    if people is None:  # not loaded with its page: look up this row's people alone
        people = activity_people_load([activity])[0]._activity_people
    try:
        text = str(message.choose(data) % _Params(activity, message, people))
    except (LookupError, ValueError, TypeError):
        # An old row without the fact, or a translation with a broken placeholder.
        return None
    return None if "%(" in text else text


def activity_text(activity: Activity) -> str:
    """What the activity says to the reader: its message, else its stored summary."""
    text = activity_message(activity)
    return activity.summary if text is None else text
