"""Mandate reminders: a scan that claims them, and a send that delivers each one once.

Beat runs ``mandate_reminders_scan`` every few minutes. For every mandate that
is the latest term of a group that is not archived, each crossed threshold
(``settings.MANDATE_REMINDER_DAYS`` before the end, and 0 = "has ended") gets
one ``portal.models.Reminder`` claim per recipient: the group's active
coordinators and the secretariat. A unique constraint makes the claim exist
once, however often the scan runs; a scan that was missed catches up on the
next run. The scan then queues one ``send_mandate_reminder`` task per unsent
claim.

``mandate_reminder_send`` locks the unsent claim, sends the e-mail, records the
in-app notification and marks the claim sent in one transaction: running the
task twice, or in two workers at once, sends one e-mail. When sending fails
the transaction rolls back, the claim stays unsent and the task is retried.
"""

import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from portal.email import send_templated_email
from portal.models import Notification, NotificationPreference, Reminder
from portal.services import delivery_for

from .models import ExtensionRequest, Mandate, Membership
from .services import _secretariat_users, memberships_end_unconfirmed

logger = logging.getLogger(__name__)

SUBJECT_TYPE = "mandate"
#: The threshold of the reminder sent once the mandate has ended.
ENDED = 0
#: How long after its end an ended mandate still gets its "has ended" reminder
#: (a scan that was down for a while catches up; older mandates are left alone).
ENDED_LOOKBACK = timedelta(days=60)
#: A claim queued longer ago than this and still unsent is queued again
#: (its task was lost, or gave up retrying). Sending twice is impossible anyway.
REQUEUE_AFTER = timedelta(minutes=15)


def reminder_thresholds() -> list[int]:
    """The configured days-before-the-end thresholds, largest first, without 0."""
    return sorted(
        {int(days) for days in settings.MANDATE_REMINDER_DAYS if int(days) > 0}, reverse=True
    )


def thresholds_crossed(*, end_date: date, today: date, thresholds: list[int]) -> list[int]:
    """The thresholds a mandate ending on ``end_date`` has crossed by ``today``.

    Before the end: every T with ``end_date - T <= today``. From the end date
    on (for ``ENDED_LOOKBACK``): only ``ENDED``.
    """
    if end_date <= today:
        return [ENDED] if end_date >= today - ENDED_LOOKBACK else []
    days_left = (end_date - today).days
    return [t for t in thresholds if days_left <= t]


def _due_mandates(today: date, thresholds: list[int]):
    """Mandates that may have a crossed threshold today: latest term, group not archived."""
    horizon = today + timedelta(days=max(thresholds, default=ENDED))
    later_term = Mandate.objects.filter(group_id=OuterRef("group_id"), term__gt=OuterRef("term"))
    return (
        Mandate.objects.filter(
            end_date__gte=today - ENDED_LOOKBACK,
            end_date__lte=horizon,
            group__archived_at__isnull=True,
        )
        .filter(~Exists(later_term))
        .order_by("pk")
    )


def mandate_reminders_scan(*, today: date | None = None) -> int:
    """Claim every crossed reminder and queue a send task for each unsent claim.

    Safe to run as often as wanted: claims are unique, and a claim queued in
    the last ``REQUEUE_AFTER`` is not queued again. Works in batches of
    ``settings.REMINDER_SCAN_BATCH`` mandates with a fixed number of queries
    per batch. Also ends the memberships that were not confirmed for a term 2
    that has started. Returns the number of send tasks queued.
    """
    today = today or timezone.localdate()
    thresholds = reminder_thresholds()
    secretariat_ids = {user.pk for user in _secretariat_users()}
    due = _due_mandates(today, thresholds)
    size = settings.REMINDER_SCAN_BATCH
    queued = 0
    last_pk = 0
    while True:
        batch = list(due.filter(pk__gt=last_pk).values_list("pk", "group_id", "end_date")[:size])
        if not batch:
            break
        queued += _claim_and_queue(
            batch, today=today, thresholds=thresholds, secretariat_ids=secretariat_ids
        )
        last_pk = batch[-1][0]
        if len(batch) < size:
            break
    if _unconfirmed_memberships_due(today):
        memberships_end_unconfirmed(on=today)
    return queued


def _unconfirmed_memberships_due(today: date) -> bool:
    """Whether ``memberships_end_unconfirmed`` has anything to end today.

    That service spends a few queries on every group in term 2; asked every
    few minutes it would cost the scan queries in proportion to the number of
    extended groups. One query tells whether there is any work at all. The
    conditions mirror the service's.
    """
    return Membership.objects.filter(
        state=Membership.State.ACTIVE,
        role=Membership.Role.MEMBER,
        confirmed_term__lt=2,
        group__standing_membership=False,
        group__archived_at__isnull=True,
        group__mandates__term=2,
        group__mandates__start_date__lte=today,
    ).exists()


def _claim_and_queue(
    batch, *, today: date, thresholds: list[int], secretariat_ids: set[int]
) -> int:
    """One batch: create the missing claims, then queue the unsent ones.

    A fixed number of queries, whatever the size of the batch: coordinators of
    all its groups at once, existing claims at once, one insert, one locked
    read and one update.
    """
    coordinators: dict[int, set[int]] = defaultdict(set)
    for group_id, user_id in Membership.objects.filter(
        group_id__in={group_id for _pk, group_id, _end in batch},
        state=Membership.State.ACTIVE,
        role=Membership.Role.COORDINATOR,
        user__is_active=True,
    ).values_list("group_id", "user_id"):
        coordinators[group_id].add(user_id)

    crossed = {
        pk: thresholds_crossed(end_date=end_date, today=today, thresholds=thresholds)
        for pk, _group_id, end_date in batch
    }
    # Most claims exist already (the scan runs every few minutes): building and
    # inserting them again would cost far more than reading their keys.
    claimed = set(
        Reminder.objects.filter(
            subject_type=SUBJECT_TYPE, subject_id__in=list(crossed)
        ).values_list("subject_id", "threshold", "recipient_id")
    )
    missing = [
        Reminder(subject_type=SUBJECT_TYPE, subject_id=pk, threshold=threshold, recipient_id=uid)
        for pk, group_id, _end in batch
        for threshold in crossed[pk]
        for uid in sorted(coordinators[group_id] | secretariat_ids)
        if (pk, threshold, uid) not in claimed
    ]
    if missing:
        # A concurrent scan may have claimed some meanwhile: the constraint keeps one.
        Reminder.objects.bulk_create(missing, ignore_conflicts=True)

    now = timezone.now()
    with transaction.atomic():
        # Locked and skipped so that two overlapping scans do not queue the same claim.
        unsent = (
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(
                subject_type=SUBJECT_TYPE,
                subject_id__in=list(crossed),
                sent_at__isnull=True,
            )
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))
            .values_list("pk", "subject_id", "threshold")
        )
        # A claim whose threshold no longer applies (the 7-day claim of a mandate
        # that has ended since) stays unsent and is not queued again.
        ids = [pk for pk, subject_id, threshold in unsent if threshold in crossed[subject_id]]
        if ids:
            Reminder.objects.filter(pk__in=ids).update(queued_at=now)
            transaction.on_commit(partial(_queue_sends, ids))
    return len(ids)


def _queue_sends(reminder_ids: list[int]) -> None:
    from .tasks import send_mandate_reminder

    for reminder_id in reminder_ids:
        send_mandate_reminder.delay(reminder_id)


# --- Sending ----------------------------------------------------------------


def mandate_reminder_send(*, reminder_id: int) -> bool:
    """Send one claimed reminder by e-mail and in-app, once. Returns whether it was sent.

    Returns False when the claim is gone, already sent, being sent by another
    worker right now, or no longer applies (group archived or extended,
    mandate ended before a days-before reminder went out, recipient
    deactivated). Raises what sending raised, with the claim left unsent, so
    that the task retries.
    """
    try:
        with transaction.atomic():
            reminder = (
                Reminder.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient")
                .filter(pk=reminder_id, subject_type=SUBJECT_TYPE, sent_at__isnull=True)
                .first()
            )
            if reminder is None:
                return False
            mandate = Mandate.objects.select_related("group").filter(pk=reminder.subject_id).first()
            today = timezone.localdate()
            if mandate is None or not _still_applies(reminder, mandate, today):
                logger.info("Mandate reminder %s no longer applies; not sent", reminder_id)
                return False
            _deliver(reminder, mandate, today)
            reminder.sent_at = timezone.now()
            reminder.attempts = F("attempts") + 1
            reminder.save(update_fields=["sent_at", "attempts"])
    except Exception:
        # The failed attempt is counted outside the rolled-back transaction.
        with contextlib.suppress(DatabaseError):
            Reminder.objects.filter(pk=reminder_id, sent_at__isnull=True).update(
                attempts=F("attempts") + 1
            )
        raise
    return True


def _still_applies(reminder: Reminder, mandate: Mandate, today: date) -> bool:
    if not reminder.recipient.is_active or mandate.group.archived_at is not None:
        return False
    if reminder.threshold != ENDED and mandate.end_date <= today:
        return False
    return not Mandate.objects.filter(group_id=mandate.group_id, term__gt=mandate.term).exists()


@dataclass(frozen=True)
class ReminderMessage:
    """What a reminder says, already in the recipient's language."""

    subject: str
    situation: str  # what happens
    advice: str  # what can be done
    action_label: str
    action_path: str
    reason: str  # why this person receives it

    @property
    def text(self) -> str:
        return f"{self.situation}\n\n{self.advice}"


def mandate_reminder_message(
    *, mandate: Mandate, threshold: int, today: date, is_coordinator: bool, pending_extension: bool
) -> ReminderMessage:
    """Compose the reminder in the active language.

    Term 1: the coordinators can request the one extension. Term 2: prepare the
    closure. Ended: the group is expired and read-only; the secretariat can
    archive it.
    """
    group = mandate.group
    end = formats.date_format(mandate.end_date, "DATE_FORMAT")
    group_path = group.get_absolute_url()
    if is_coordinator:
        reason = _("You receive this reminder as a coordinator of the group.")
    else:
        reason = _("You receive this reminder as a member of the secretariat.")

    if threshold == ENDED or mandate.end_date <= today:
        subject = _("The mandate of %(group)s has ended") % {"group": group.name}
        situation = _(
            "Term %(term)d of %(group)s ended on %(date)s. The group is now expired: it is "
            "read-only for its members, and its documents, meetings, minutes and chat history "
            "stay available."
        ) % {"term": mandate.term, "group": group.name, "date": end}
        if is_coordinator:
            advice = _(
                "Nothing more can be added to the group. The secretariat can now archive it; "
                "it will then be listed among the past groups."
            )
        else:
            advice = _(
                "You can now archive the group from its page; it will then be listed among the "
                "past groups."
            )
        return ReminderMessage(subject, situation, advice, _("Open the group"), group_path, reason)

    days = (mandate.end_date - today).days
    subject = ngettext(
        "The mandate of %(group)s ends in %(days)d day",
        "The mandate of %(group)s ends in %(days)d days",
        days,
    ) % {"group": group.name, "days": days}
    situation = ngettext(
        "Term %(term)d of %(group)s ends on %(date)s, in %(days)d day.",
        "Term %(term)d of %(group)s ends on %(date)s, in %(days)d days.",
        days,
    ) % {"term": mandate.term, "group": group.name, "date": end, "days": days}

    if mandate.term >= 2:
        advice = _(
            "This is the group's second and last term: the mandate cannot be extended again. "
            "Prepare the closure: finish the work, upload the final documents and minutes, and "
            "tell the members what happens next. When the term ends the group becomes "
            "read-only, and the secretariat archives it."
        )
        return ReminderMessage(subject, situation, advice, _("Open the group"), group_path, reason)

    if pending_extension:
        advice = _(
            "An extension request is waiting for the secretariat's decision. If it is not "
            "approved before %(date)s, the group expires then."
        ) % {"date": end}
        if is_coordinator:
            return ReminderMessage(
                subject, situation, advice, _("Open the group"), group_path, reason
            )
        return ReminderMessage(
            subject,
            situation,
            advice,
            _("Decide on the request"),
            reverse("groups:secretariat_dashboard"),
            reason,
        )

    if is_coordinator:
        advice = _(
            "The mandate can be extended once, for two more years. As a coordinator you can "
            "ask the secretariat for this extension: explain in a few sentences why the group "
            "should continue. Without an extension the group expires on %(date)s."
        ) % {"date": end}
        return ReminderMessage(
            subject,
            situation,
            advice,
            _("Request the extension"),
            reverse("groups:extension_request", kwargs={"slug": group.slug}),
            reason,
        )
    advice = _(
        "The coordinators can request the one extension of two more years before the term "
        "ends; the secretariat then decides. Without an extension the group expires on "
        "%(date)s."
    ) % {"date": end}
    return ReminderMessage(subject, situation, advice, _("Open the group"), group_path, reason)


def _deliver(reminder: Reminder, mandate: Mandate, today: date) -> None:
    user = reminder.recipient
    group = mandate.group
    is_coordinator = Membership.objects.filter(
        group=group,
        user=user,
        state=Membership.State.ACTIVE,
        role=Membership.Role.COORDINATOR,
    ).exists()
    pending_extension = (
        mandate.term == 1
        and ExtensionRequest.objects.filter(
            group=group, state=ExtensionRequest.State.PENDING
        ).exists()
    )
    language = user.language or settings.LANGUAGE_CODE
    with translation.override(language):
        message = mandate_reminder_message(
            mandate=mandate,
            threshold=reminder.threshold,
            today=today,
            is_coordinator=is_coordinator,
            pending_extension=pending_extension,
        )
    # The user's choice for mandate e-mails holds here too; a digest picks up
    # notifications that were not e-mailed.
    by_email = delivery_for(user, Notification.Category.MANDATE) == (
        NotificationPreference.Delivery.IMMEDIATELY
    )
    Notification.objects.create(
        user=user,
        category=Notification.Category.MANDATE,
        title=message.subject[:200],
        body=message.text,
        url=message.action_path,
        emailed_at=timezone.now() if by_email else None,
    )
    if by_email:
        send_templated_email(
            to=user,
            template="mandate_reminder",
            subject=message.subject,
            context={
                "group": group,
                "mandate": mandate,
                "message": message,
                "action_url": settings.SITE_URL + message.action_path,
                "LANGUAGE_CODE": language,
            },
        )
