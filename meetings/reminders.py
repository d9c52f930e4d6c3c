"""Meeting and poll reminders: a scan that claims them, and a send that delivers each once.

The same claim mechanism as the mandate reminders (``groups/reminders.py``),
with thresholds in minutes:

- before a meeting starts (``settings.MEETING_REMINDER_MINUTES``, default 24
  hours and 1 hour), to its invitees who have not declined;
- before a date poll closes (``settings.MEETING_POLL_REMINDER_MINUTES``,
  default 24 hours), to the group's members who have not answered.

Beat runs ``meeting_reminders_scan`` every couple of minutes. A threshold T is
*current* for a meeting when T is the smallest threshold with ``minutes left <=
T``; only the current one is claimed (a scan that was down does not send a
"24 hours before" reminder ten minutes before the start), and only when the
meeting was already planned at that moment (``times_set_at`` before ``start -
T``: the invitation itself tells who was invited at short notice). A claim is
a ``portal.models.Reminder`` row, unique per (subject, threshold, recipient),
created with ``ignore_conflicts``; a scan then queues one send task per unsent
claim, locked with ``skip_locked`` so that overlapping scans queue it once.

``meeting_reminder_send`` / ``poll_reminder_send`` lock the unsent claim,
check it still applies, record the in-app notification, send the e-mail and
mark the claim sent in one transaction: a task run twice, or by two workers at
once, sends one e-mail. When sending fails the transaction rolls back, the
claim stays unsent and the task is retried.

Moving a meeting deletes its claims (``meetings.services.meeting_update``), so
the reminders follow the new time.
"""

import contextlib
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from groups.models import Membership
from portal.models import Notification, NotificationPreference, Reminder
from portal.services import delivery_for

from .mail import moment_text, send_calendar_email, user_zone, when_text
from .models import DatePoll, Invitee, Meeting, PollVote

logger = logging.getLogger(__name__)

MEETING = "meeting"
POLL = "poll"
#: A claim queued longer ago than this and still unsent is queued again.
REQUEUE_AFTER = timedelta(minutes=10)


def thresholds(minutes) -> list[int]:
    """Positive thresholds in minutes, largest first."""
    return sorted({int(m) for m in minutes if int(m) > 0}, reverse=True)


def current_threshold(
    *, moment: datetime, now: datetime, planned_at: datetime | None, thresholds: list[int]
) -> int | None:
    """The threshold a reminder for ``moment`` is due at ``now``, or None.

    The smallest T with ``moment - T <= now < moment``, provided the meeting
    (or poll) already existed at ``moment - T``.
    """
    if moment <= now:
        return None
    left = moment - now
    crossed = [t for t in thresholds if left <= timedelta(minutes=t)]
    if not crossed:
        return None
    threshold = min(crossed)
    if planned_at is not None and planned_at > moment - timedelta(minutes=threshold):
        return None
    return threshold


# --- Scan -------------------------------------------------------------------


def meeting_reminders_scan(*, now: datetime | None = None) -> int:
    """Claim the due meeting and poll reminders and queue their sends. Returns the number queued.

    Works in batches of ``settings.REMINDER_SCAN_BATCH`` meetings (or polls)
    with a fixed number of queries per batch; safe to run as often as wanted.
    """
    now = now or timezone.now()
    return _scan_meetings(now) + _scan_polls(now)


def _batches(rows, size: int):
    last_pk = 0
    while True:
        batch = list(rows.filter(pk__gt=last_pk)[:size])
        if not batch:
            return
        yield batch
        last_pk = batch[-1][0]
        if len(batch) < size:
            return


def _active_membership(group_id):
    """Rows of an active membership of the invitee in ``group_id`` (people who left are
    not reminded, though their invitation stays on record)."""
    return Membership.objects.filter(
        group_id=group_id, user_id=OuterRef("user_id"), state=Membership.State.ACTIVE
    )


def _scan_meetings(now: datetime) -> int:
    steps = thresholds(settings.MEETING_REMINDER_MINUTES)
    if not steps:
        return 0
    due = (
        Meeting.objects.filter(
            state=Meeting.State.SCHEDULED,
            starts_at__gt=now,
            starts_at__lte=now + timedelta(minutes=steps[0]),
            group__archived_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", "starts_at", "times_set_at")
    )
    queued = 0
    for batch in _batches(due, settings.REMINDER_SCAN_BATCH):
        current = {
            pk: t
            for pk, starts_at, planned_at in batch
            if (
                t := current_threshold(
                    moment=starts_at, now=now, planned_at=planned_at, thresholds=steps
                )
            )
            is not None
        }
        if not current:
            continue
        recipients: dict[int, list[int]] = defaultdict(list)
        for meeting_id, user_id in (
            Invitee.objects.filter(meeting_id__in=list(current), user__is_active=True)
            .filter(Exists(_active_membership(OuterRef("meeting__group_id"))))
            .exclude(answer=Invitee.Answer.NO)
            .values_list("meeting_id", "user_id")
        ):
            recipients[meeting_id].append(user_id)
        queued += _claim_and_queue(MEETING, current, recipients, now)
    return queued


def _scan_polls(now: datetime) -> int:
    steps = thresholds(settings.MEETING_POLL_REMINDER_MINUTES)
    if not steps:
        return 0
    due = (
        DatePoll.objects.filter(
            state=DatePoll.State.OPEN,
            closes_at__gt=now,
            closes_at__lte=now + timedelta(minutes=steps[0]),
            group__archived_at__isnull=True,
        )
        .order_by("pk")
        .values_list("pk", "closes_at", "created_at", "group_id")
    )
    queued = 0
    for batch in _batches(due, settings.REMINDER_SCAN_BATCH):
        current = {}
        group_of = {}
        for pk, closes_at, created_at, group_id in batch:
            t = current_threshold(
                moment=closes_at, now=now, planned_at=created_at, thresholds=steps
            )
            if t is not None:
                current[pk] = t
                group_of[pk] = group_id
        if not current:
            continue
        members: dict[int, list[int]] = defaultdict(list)
        for group_id, user_id in Membership.objects.filter(
            group_id__in=set(group_of.values()),
            state=Membership.State.ACTIVE,
            user__is_active=True,
        ).values_list("group_id", "user_id"):
            members[group_id].append(user_id)
        voted = set(
            PollVote.objects.filter(poll_id__in=list(current))
            .values_list("poll_id", "user_id")
            .distinct()
        )
        recipients = {
            pk: [u for u in members[group_of[pk]] if (pk, u) not in voted] for pk in current
        }
        queued += _claim_and_queue(POLL, current, recipients, now)
    return queued


def _claim_and_queue(
    subject_type: str, current: dict[int, int], recipients: dict[int, list[int]], now: datetime
) -> int:
    """Create the missing claims, then queue the unsent current ones.

    A fixed number of queries whatever the size of the batch: the existing
    claims at once, one insert, one locked read and one update.
    """
    # Most claims exist already (the scan runs every couple of minutes): reading
    # their keys costs far less than building and inserting them again.
    claimed = set(
        Reminder.objects.filter(
            subject_type=subject_type, subject_id__in=list(current)
        ).values_list("subject_id", "threshold", "recipient_id")
    )
    missing = [
        Reminder(subject_type=subject_type, subject_id=pk, threshold=threshold, recipient_id=uid)
        for pk, threshold in current.items()
        for uid in sorted(recipients.get(pk, ()))
        if (pk, threshold, uid) not in claimed
    ]
    if missing:
        # A concurrent scan may have claimed some meanwhile: the constraint keeps one.
        Reminder.objects.bulk_create(missing, ignore_conflicts=True, batch_size=2000)
    with transaction.atomic():
        unsent = (
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(subject_type=subject_type, subject_id__in=list(current), sent_at__isnull=True)
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))
            .values_list("pk", "subject_id", "threshold")
        )
        # A claim of a threshold that is no longer current (a 24-hour claim still
        # unsent one hour before) stays unsent and is not queued again.
        ids = [pk for pk, subject_id, threshold in unsent if current[subject_id] == threshold]
        if ids:
            Reminder.objects.filter(pk__in=ids).update(queued_at=now)
            transaction.on_commit(partial(_queue_sends, subject_type, ids))
    return len(ids)


def _queue_sends(subject_type: str, reminder_ids: list[int]) -> None:
    from .tasks import send_meeting_reminder, send_poll_reminder

    task = send_meeting_reminder if subject_type == MEETING else send_poll_reminder
    for reminder_id in reminder_ids:
        task.delay(reminder_id)


# --- Send -------------------------------------------------------------------


def _send_claim(reminder_id: int, subject_type: str, deliver) -> bool:
    """Lock the unsent claim, deliver it if it still applies, mark it sent: once."""
    try:
        with transaction.atomic():
            reminder = (
                Reminder.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient")
                .filter(pk=reminder_id, subject_type=subject_type, sent_at__isnull=True)
                .first()
            )
            if reminder is None:
                return False
            if not reminder.recipient.is_active or not deliver(reminder, timezone.now()):
                logger.info("%s reminder %s no longer applies; not sent", subject_type, reminder_id)
                return False
            reminder.sent_at = timezone.now()
            reminder.attempts = F("attempts") + 1
            reminder.save(update_fields=["sent_at", "attempts"])
    except Exception:
        with contextlib.suppress(DatabaseError):
            Reminder.objects.filter(pk=reminder_id, sent_at__isnull=True).update(
                attempts=F("attempts") + 1
            )
        raise
    return True


def meeting_reminder_send(*, reminder_id: int) -> bool:
    """Send one claimed meeting reminder, once. Returns whether it was sent.

    Not sent when the meeting is gone, cancelled, started, in an archived
    group, moved to another threshold, or the recipient has since declined or
    is no longer invited. Raises what sending raised, claim left unsent.
    """
    return _send_claim(reminder_id, MEETING, _deliver_meeting)


def poll_reminder_send(*, reminder_id: int) -> bool:
    """Send one claimed poll reminder, once (same rules as the meeting reminders)."""
    return _send_claim(reminder_id, POLL, _deliver_poll)


def _by_email(user) -> bool:
    return delivery_for(user, Notification.Category.MEETINGS) == (
        NotificationPreference.Delivery.IMMEDIATELY
    )


def _left_text(left: timedelta) -> str:
    minutes = max(1, round(left.total_seconds() / 60))
    if minutes < 90 and minutes != 60:
        return ngettext("in %(n)d minute", "in %(n)d minutes", minutes) % {"n": minutes}
    hours = round(minutes / 60)
    return ngettext("in %(n)d hour", "in %(n)d hours", hours) % {"n": hours}


def _deliver_meeting(reminder: Reminder, now: datetime) -> bool:
    meeting = (
        Meeting.objects.select_related("group")
        .filter(pk=reminder.subject_id, state=Meeting.State.SCHEDULED)
        .first()
    )
    if meeting is None or meeting.group.archived_at is not None:
        return False
    steps = thresholds(settings.MEETING_REMINDER_MINUTES)
    due = current_threshold(
        moment=meeting.starts_at, now=now, planned_at=meeting.times_set_at, thresholds=steps
    )
    if due != reminder.threshold:
        return False
    user = reminder.recipient
    invitee = Invitee.objects.filter(meeting=meeting, user=user).first()
    if invitee is None or invitee.answer == Invitee.Answer.NO:
        return False
    if not Membership.objects.filter(
        group_id=meeting.group_id, user=user, state=Membership.State.ACTIVE
    ).exists():
        return False
    language = user.language or settings.LANGUAGE_CODE
    with translation.override(language):
        when = when_text(meeting.starts_at, meeting.ends_at, user_zone(user))
        left = _left_text(meeting.starts_at - now)
        subject = _("Reminder: %(title)s starts %(left)s") % {"title": meeting.title, "left": left}
        body = _("%(group)s meets %(when)s.") % {"group": meeting.group.name, "when": when}
    email = _by_email(user)
    Notification.objects.create(
        user=user,
        category=Notification.Category.MEETINGS,
        title=subject[:200],
        body=body,
        url=meeting.get_absolute_url(),
        emailed_at=timezone.now() if email else None,
    )
    if email:
        send_calendar_email(
            to=user,
            template="meeting_reminder",
            subject=subject,
            context={
                "meeting": meeting,
                "invitee": invitee,
                "when": when,
                "left": left,
                "meeting_url": settings.SITE_URL + meeting.get_absolute_url(),
            },
        )
    return True


def _deliver_poll(reminder: Reminder, now: datetime) -> bool:
    poll = (
        DatePoll.objects.select_related("group")
        .filter(pk=reminder.subject_id, state=DatePoll.State.OPEN)
        .first()
    )
    if poll is None or poll.group.archived_at is not None:
        return False
    steps = thresholds(settings.MEETING_POLL_REMINDER_MINUTES)
    due = current_threshold(
        moment=poll.closes_at, now=now, planned_at=poll.created_at, thresholds=steps
    )
    if due != reminder.threshold:
        return False
    user = reminder.recipient
    still_member = Membership.objects.filter(
        group_id=poll.group_id, user=user, state=Membership.State.ACTIVE
    )
    answered = PollVote.objects.filter(poll=poll, user=user)
    if not still_member.exists() or answered.exists():
        return False
    language = user.language or settings.LANGUAGE_CODE
    tz = user_zone(user)
    with translation.override(language):
        left = _left_text(poll.closes_at - now)
        closes = moment_text(poll.closes_at, tz)
        subject = _("Which dates suit you for “%(title)s”? Voting closes %(left)s") % {
            "title": poll.title,
            "left": left,
        }
        body = _("%(group)s is choosing a date. You have not answered yet.") % {
            "group": poll.group.name
        }
    email = _by_email(user)
    Notification.objects.create(
        user=user,
        category=Notification.Category.MEETINGS,
        title=subject[:200],
        body=body,
        url=poll.get_absolute_url(),
        emailed_at=timezone.now() if email else None,
    )
    if email:
        send_calendar_email(
            to=user,
            template="meeting_poll_reminder",
            subject=subject,
            context={
                "poll": poll,
                "left": left,
                "closes": closes,
                "poll_url": settings.SITE_URL + poll.get_absolute_url(),
            },
        )
    return True
