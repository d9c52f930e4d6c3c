"""Meeting e-mails: invitations, updates and cancellations that calendars understand.

Each e-mail is rendered in the recipient's language *and time zone*, carries
the iCalendar part twice (as a ``text/calendar; method=…`` alternative, which
Outlook and Gmail turn into an event card, and as an ``invite.ics``
attachment for the others), and has an in-app notification beside it. The
user's choice for meeting e-mails (at once, digest, off) holds.
"""

import contextlib
import zoneinfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from groups.models import Membership
from portal.models import Notification, NotificationPreference
from portal.services import delivery_for

from . import ics
from .models import Invitee, Meeting, MeetingEmail
from .services import CANCELLATION, INVITATION, UNINVITED, UPDATE


def user_zone(user) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.timezone or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def when_text(start, end, tz) -> str:
    """ "Tuesday 30 March 2027, 10:00–12:00 (Europe/Lisbon)" in the active language."""
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    text = "{}, {}–".format(
        formats.date_format(local_start, "l j F Y"), formats.time_format(local_start, "H:i")
    )
    if local_end.date() != local_start.date():
        text += formats.date_format(local_end, "j F Y") + ", "
    return f"{text}{formats.time_format(local_end, 'H:i')} ({tz.key})"


def moment_text(moment, tz) -> str:
    """ "Tuesday 30 March 2027, 10:00 (Europe/Lisbon)" in the active language."""
    local = moment.astimezone(tz)
    return "{}, {} ({})".format(
        formats.date_format(local, "l j F Y"), formats.time_format(local, "H:i"), tz.key
    )


def send_calendar_email(
    *,
    to,
    template: str,
    subject: str,
    context: dict,
    calendar: bytes | None = None,
    method: str = "",
) -> None:
    """Render ``templates/email/<template>.txt`` and ``.html`` for ``to`` and send them.

    Like ``portal.email.send_templated_email``, in the recipient's language, and
    also in the recipient's time zone; with an iCalendar part when given.
    """
    language = to.language or settings.LANGUAGE_CODE
    tz = user_zone(to)
    with translation.override(language), timezone.override(tz):
        ctx = {
            "user": to,
            "site_url": settings.SITE_URL,
            "LANGUAGE_CODE": language,
            "zone_name": tz.key,
            **context,
        }
        text = render_to_string(f"email/{template}.txt", ctx)
        html = render_to_string(f"email/{template}.html", ctx)
    message = EmailMultiAlternatives(
        subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + str(subject), body=text, to=[to.email]
    )
    message.attach_alternative(html, "text/html")
    if calendar:
        content = calendar.decode() if isinstance(calendar, bytes) else calendar
        message.attach_alternative(content, f"text/calendar; method={method}; charset=UTF-8")
        message.attach("invite.ics", content, "application/ics")
    message.send()


def _subject(kind: str, meeting: Meeting, when: str) -> str:
    values = {"title": meeting.title, "when": when}
    if kind == INVITATION:
        return _("Invitation: %(title)s, %(when)s") % values
    if kind == UPDATE:
        return _("Changed: %(title)s, %(when)s") % values
    if kind == CANCELLATION:
        return _("Cancelled: %(title)s, %(when)s") % values
    return _("No longer invited: %(title)s, %(when)s") % values


def _situation(kind: str, meeting: Meeting) -> str:
    group = meeting.group.name
    if kind == INVITATION:
        return _("You are invited to a meeting of %(group)s.") % {"group": group}
    if kind == UPDATE:
        return _(
            "A meeting of %(group)s you are invited to has changed. If the time changed, "
            "please answer again."
        ) % {"group": group}
    if kind == CANCELLATION:
        return _("A meeting of %(group)s has been cancelled.") % {"group": group}
    return _("You are no longer invited to this meeting of %(group)s.") % {"group": group}


def meeting_email_send(*, meeting_id: int, user_id: int, kind: str) -> bool:
    """Send one invitation, update or cancellation to one person, once. Returns whether it went out.

    Re-reads the meeting and sends its state *now*: an invitation queued before
    a cancellation is not sent (the cancellation is). Nothing is sent to a
    deactivated account.

    Exactly once per (meeting, recipient, SEQUENCE, kind): a ``MeetingEmail``
    claim is created, locked while unsent, and marked sent in the transaction
    that records the notification and sends, so the task run twice, retried
    after a failure, or taken by two workers at once sends one e-mail. When
    sending fails the transaction rolls back, the claim stays unsent and the
    task is retried.
    """
    if kind not in MeetingEmail.Kind.values:
        raise ValueError(f"unknown meeting e-mail kind {kind!r}")
    meeting = (
        Meeting.objects.select_related("group", "created_by", "agenda_document__group")
        .filter(pk=meeting_id)
        .first()
    )
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if meeting is None or user is None or not _applies(meeting, user, kind):
        return False
    claim, _created = MeetingEmail.objects.get_or_create(
        meeting=meeting, recipient=user, sequence=meeting.sequence, kind=kind
    )
    if claim.sent_at is not None:
        return False
    try:
        with transaction.atomic():
            locked = (
                MeetingEmail.objects.select_for_update(skip_locked=True)
                .filter(pk=claim.pk, sent_at__isnull=True)
                .first()
            )
            if locked is None:
                return False  # sent meanwhile, or being sent by another worker
            _deliver(meeting, user, kind)
            locked.sent_at = timezone.now()
            locked.attempts = F("attempts") + 1
            locked.save(update_fields=["sent_at", "attempts"])
    except Exception:
        with contextlib.suppress(DatabaseError):
            MeetingEmail.objects.filter(pk=claim.pk, sent_at__isnull=True).update(
                attempts=F("attempts") + 1
            )
        raise
    return True


def _applies(meeting: Meeting, user, kind: str) -> bool:
    """Whether e-mail ``kind`` about ``meeting`` still makes sense for ``user`` now."""
    invited = Invitee.objects.filter(meeting=meeting, user=user).exists()
    if kind in (INVITATION, UPDATE):
        return (
            not meeting.is_cancelled
            and invited
            and meeting.starts_at > timezone.now()
            # not if they left the group since
            and Membership.objects.filter(
                group_id=meeting.group_id, user=user, state=Membership.State.ACTIVE
            ).exists()
        )
    if kind == UNINVITED:
        return not invited
    return True  # a cancellation goes to everyone it was queued for


def _deliver(meeting: Meeting, user, kind: str) -> None:
    """Record the in-app notification and send the e-mail (per the user's preference)."""
    if kind == UNINVITED:
        method = ics.CANCEL
        invitees = [Invitee(meeting=meeting, user=user)]
    else:
        method = ics.CANCEL if kind == CANCELLATION else ics.REQUEST
        invitees = list(Invitee.objects.filter(meeting=meeting).select_related("user"))
    language = user.language or settings.LANGUAGE_CODE
    tz = user_zone(user)
    with translation.override(language):
        when = when_text(meeting.starts_at, meeting.ends_at, tz)
        subject = _subject(kind, meeting, when)
        situation = _situation(kind, meeting)
        calendar = ics.invitation_ics(meeting, method=method, attendees=invitees)
    by_email = delivery_for(user, Notification.Category.MEETINGS) == (
        NotificationPreference.Delivery.IMMEDIATELY
    )
    Notification.objects.create(
        user=user,
        category=Notification.Category.MEETINGS,
        title=subject[:200],
        body=situation,
        url=meeting.get_absolute_url(),
        emailed_at=timezone.now() if by_email else None,
    )
    if by_email:
        send_calendar_email(
            to=user,
            template="meeting_invitation",
            subject=subject,
            context={
                "meeting": meeting,
                "kind": kind,
                "when": when,
                "situation": situation,
                "meeting_url": settings.SITE_URL + meeting.get_absolute_url(),
            },
            calendar=calendar,
            method=method,
        )
