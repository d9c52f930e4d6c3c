"""iCalendar (RFC 5545/5546) for meetings: invitations, single downloads and feeds.

- An invitation is ``METHOD:REQUEST``; a cancellation ``METHOD:CANCEL``. Both
  carry the meeting's stable ``UID`` and its ``SEQUENCE`` (raised on every
  change), so Outlook, Thunderbird and Google update or remove the event they
  already hold instead of adding a second one.
- Start and end are written in the zone the meeting was planned in
  (``DTSTART;TZID=Europe/Lisbon:…``) with the matching ``VTIMEZONE``
  component, so every calendar program converts them correctly, also across a
  daylight-saving change.
- Answers are given in the portal, not by e-mail: attendees are listed with
  ``RSVP=FALSE`` and their current answer as ``PARTSTAT``.
"""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from email.utils import parseaddr

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, Timezone, vCalAddress

from .models import Invitee, Meeting
from .timezones import known_zones, zone

PRODID = "-//European Probation Confederation//Expert Group Portal//EN"
REQUEST = "REQUEST"
CANCEL = "CANCEL"
PUBLISH = "PUBLISH"

PARTSTAT = {
    Invitee.Answer.YES: "ACCEPTED",
    Invitee.Answer.NO: "DECLINED",
    Invitee.Answer.MAYBE: "TENTATIVE",
}


def _address(email: str, name: str = "") -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    if name:
        address.params["CN"] = name
    return address


def _organizer(meeting: Meeting) -> vCalAddress:
    creator = meeting.created_by
    if creator is not None and creator.is_active:
        return _address(creator.email, creator.get_full_name() or creator.email)
    name, email = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return _address(email or "portal@localhost", meeting.group.name)


def _description(meeting: Meeting) -> str:
    """Agenda, online link and the portal page, in the active language."""
    parts = [_("Group: %(group)s") % {"group": meeting.group.name}]
    if meeting.is_cancelled and meeting.cancel_reason:
        parts.append(_("Cancelled: %(reason)s") % {"reason": meeting.cancel_reason})
    if meeting.agenda:
        parts.append(_("Agenda:") + "\n" + meeting.agenda)
    if meeting.agenda_document_id:
        parts.append(
            _("Agenda document: %(url)s")
            % {"url": settings.SITE_URL + meeting.agenda_document.get_absolute_url()}
        )
    if meeting.online_url:
        parts.append(_("Join online: %(url)s") % {"url": meeting.online_url})
    parts.append(
        _("Details and your answer: %(url)s")
        % {"url": settings.SITE_URL + meeting.get_absolute_url()}
    )
    return "\n\n".join(parts)


def meeting_event(
    meeting: Meeting,
    *,
    method: str,
    attendees: Iterable[Invitee] = (),
    stamp: datetime | None = None,
) -> Event:
    """The VEVENT of ``meeting``; ``meeting.group`` (and ``created_by``) should be loaded."""
    tz = zone(meeting.timezone)
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", stamp or timezone.now())
    event.add("dtstart", meeting.starts_at.astimezone(tz))
    event.add("dtend", meeting.ends_at.astimezone(tz))
    event.add("created", meeting.created_at)
    event.add("last-modified", meeting.updated_at)
    event.add("summary", meeting.title)
    event.add("description", _description(meeting))
    location = meeting.place or meeting.online_url
    if location:
        event.add("location", location)
    event.add("url", settings.SITE_URL + meeting.get_absolute_url())
    event.add("categories", [meeting.group.name])
    cancelled = meeting.is_cancelled or method == CANCEL
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    if method in (REQUEST, CANCEL):
        event.add("organizer", _organizer(meeting))
        for invitee in attendees:
            address = _address(invitee.user.email, invitee.user.get_full_name())
            address.params.update(
                {
                    "CUTYPE": "INDIVIDUAL",
                    "ROLE": "REQ-PARTICIPANT",
                    "PARTSTAT": PARTSTAT.get(invitee.answer, "NEEDS-ACTION"),
                    "RSVP": "FALSE",
                }
            )
            event.add("attendee", address)
    return event


def calendar_of(
    events: list[Event], *, method: str | None, name: str = "", empty_zone: str = ""
) -> Calendar:
    """A VCALENDAR holding ``events`` and a VTIMEZONE for every zone they use.

    Without events it holds the VTIMEZONE of ``empty_zone`` (when given).
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    starts: list[date] = []
    for event in events:
        cal.add_component(event)
        starts.append(event.DTSTART.date())
    if starts:
        # VTIMEZONE rules only as far as the events need them (keeps feeds small).
        cal.add_missing_timezones(
            first_date=min(starts) - timedelta(days=366),
            last_date=max(starts) + timedelta(days=366),
        )
    elif empty_zone:
        # RFC 5545 wants at least one component: an empty feed carries the user's zone.
        today = timezone.now().date()
        cal.add_component(
            Timezone.from_tzid(
                empty_zone,
                first_date=today - timedelta(days=366),
                last_date=today + timedelta(days=366),
            )
        )
    return cal


def invitation_ics(meeting: Meeting, *, method: str, attendees: Iterable[Invitee]) -> bytes:
    """The calendar part of an invitation e-mail (REQUEST) or cancellation (CANCEL)."""
    event = meeting_event(meeting, method=method, attendees=attendees)
    return calendar_of([event], method=method).to_ical()


def meeting_ics(meeting: Meeting) -> bytes:
    """The .ics download of one meeting."""
    return calendar_of([meeting_event(meeting, method=PUBLISH)], method=PUBLISH).to_ical()


def feed_ics(meetings: Iterable[Meeting], *, user, name) -> bytes:
    """A user's private calendar feed, in the user's language, built in one pass.

    ``name`` (the calendar's display name) may be lazy: it is translated too.
    """
    stamp = timezone.now()
    with translation.override(user.language or settings.LANGUAGE_CODE):
        events = [meeting_event(m, method=PUBLISH, stamp=stamp) for m in meetings]
        name = str(name)
    zone_name = user.timezone if user.timezone in known_zones() else settings.TIME_ZONE
    return calendar_of(events, method=PUBLISH, name=name, empty_zone=zone_name).to_ical()
