"""The daily notification digest: one e-mail per person per day, sent once.

A person who chose "Daily digest" for a category gets the notifications of
that category that were neither e-mailed nor read in one e-mail a day, grouped
by category, in their language. Beat runs ``notification_digests_scan`` every
few minutes. For each person with something pending whose local clock (their
profile's time zone) has passed ``settings.NOTIFICATION_DIGEST_HOUR`` today, it
claims a ``portal.models.Reminder`` row (``subject_type="digest"``, subject and
recipient = the person, threshold = the local day as ``YYYYMMDD``). The unique
constraint on that row makes one digest per person and day, however often the
scan runs and however many scans overlap; the scan then queues one
``send_notification_digest`` task per unsent claim.

``notification_digest_send`` locks the claim and the pending notifications,
sends the e-mail, marks the notifications e-mailed and the claim sent in one
transaction: the same task run twice, or in two workers at once, sends one
e-mail, and a failed send rolls back, leaving everything unsent for the retry.

Notifications of a category set to "off" are never e-mailed; "immediately"
goes through ``portal.tasks.send_notification_email``. Notifications older
than ``LOOKBACK`` are left out, so that switching a category from "off" to
"digest" does not e-mail weeks of old news.
"""

import contextlib
import logging
import zoneinfo
from collections import defaultdict
from datetime import date, datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import ngettext

from .email import send_templated_email
from .models import Notification, NotificationPreference, Reminder

logger = logging.getLogger(__name__)

SUBJECT_TYPE = "digest"
#: Pending notifications older than this are not put in a digest any more.
LOOKBACK = timedelta(days=7)
#: A claim queued longer ago than this and still unsent is queued again
#: (its task was lost, or gave up retrying). Sending twice is impossible anyway.
REQUEUE_AFTER = timedelta(minutes=15)
#: The most notifications listed in one digest; the rest are counted, with a link.
MAX_LISTED = 50
#: People handled per batch of the scan (a fixed number of queries per batch).
SCAN_BATCH = 500


def day_key(day: date) -> int:
    """The claim's threshold for a local day: 2026-03-14 → 20260314."""
    return day.year * 10000 + day.month * 100 + day.day


def user_zone(user_or_name) -> zoneinfo.ZoneInfo:
    """The person's time zone, or the site's when theirs is unknown."""
    name = getattr(user_or_name, "timezone", user_or_name) or settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def digest_day_due(*, now: datetime, zone: zoneinfo.ZoneInfo) -> date | None:
    """The local day whose digest may go out at ``now``, or None before the digest hour."""
    local = now.astimezone(zone)
    return local.date() if local.hour >= settings.NOTIFICATION_DIGEST_HOUR else None


def _pending(now: datetime):
    """Notifications a digest may carry at ``now``: not e-mailed, not read, recent."""
    return Notification.objects.filter(
        emailed_at__isnull=True,
        read_at__isnull=True,
        created_at__gte=now - LOOKBACK,
        created_at__lte=now,
    )


def _candidates(now: datetime):
    """(user id, time zone) of active people with a pending notification in a digest category."""
    pending = _pending(now).filter(user_id=OuterRef("user_id"), category=OuterRef("category"))
    return (
        NotificationPreference.objects.filter(
            delivery=NotificationPreference.Delivery.DIGEST,
            user__is_active=True,
            user__deleted_at__isnull=True,
        )
        .filter(Exists(pending))
        .values_list("user_id", "user__timezone")
        .order_by("user_id")
        .distinct()
    )


def notification_digests_scan() -> int:
    """Claim today's digest of everyone who is due and queue a send task for each unsent claim.

    Safe to run as often as wanted: claims are unique per person and local day,
    and a claim queued in the last ``REQUEUE_AFTER`` is not queued again.
    Works in batches of ``SCAN_BATCH`` people with a fixed number of queries
    per batch. Returns the number of send tasks queued.
    """
    now = timezone.now()
    candidates = _candidates(now)
    queued = 0
    last_user_id = 0
    while True:
        batch = list(candidates.filter(user_id__gt=last_user_id)[:SCAN_BATCH])
        if not batch:
            break
        due = {}
        for user_id, zone_name in batch:
            day = digest_day_due(now=now, zone=user_zone(zone_name))
            if day is not None:
                due[user_id] = day_key(day)
        if due:
            queued += _claim_and_queue(due, now=now)
        last_user_id = batch[-1][0]
        if len(batch) < SCAN_BATCH:
            break
    return queued


def _claim_and_queue(due: dict[int, int], *, now: datetime) -> int:
    """Create the missing claims of one batch, then queue those of today not yet sent."""
    claimed = set(
        Reminder.objects.filter(
            subject_type=SUBJECT_TYPE,
            subject_id__in=list(due),
            threshold__in=set(due.values()),
        ).values_list("subject_id", "threshold")
    )
    missing = [
        Reminder(subject_type=SUBJECT_TYPE, subject_id=uid, threshold=key, recipient_id=uid)
        for uid, key in due.items()
        if (uid, key) not in claimed
    ]
    if missing:
        # A concurrent scan may have claimed some meanwhile: the constraint keeps one.
        Reminder.objects.bulk_create(missing, ignore_conflicts=True)

    with transaction.atomic():
        # Locked and skipped so that two overlapping scans do not queue the same claim.
        unsent = (
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(subject_type=SUBJECT_TYPE, subject_id__in=list(due), sent_at__isnull=True)
            .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=now - REQUEUE_AFTER))
            .values_list("pk", "subject_id", "threshold")
        )
        # Only today's claim is queued; an older unsent one (a day whose sending
        # failed) is superseded: its notifications are in today's digest.
        ids = [pk for pk, uid, key in unsent if due.get(uid) == key]
        if ids:
            Reminder.objects.filter(pk__in=ids).update(queued_at=now)
            transaction.on_commit(partial(_queue_sends, ids))
    return len(ids)


def _queue_sends(claim_ids: list[int]) -> None:
    from .tasks import send_notification_digest

    for claim_id in claim_ids:
        send_notification_digest.delay(claim_id)


# --- Sending ----------------------------------------------------------------


def notification_digest_send(*, claim_id: int) -> bool:
    """Send one claimed digest, once. Returns whether an e-mail went out.

    Returns False when the claim is gone, already sent, being sent by another
    worker right now, or no longer due (its local day is over, the person was
    deactivated, or nothing is pending any more: read in the app meanwhile, or
    the preference changed). Such a claim is deleted, so that the next
    notification can still go out in a digest that day or the next.
    Raises what sending raised, with the claim and the notifications left
    unsent, so that the task retries.
    """
    try:
        with transaction.atomic():
            claim = (
                Reminder.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("recipient")
                .filter(pk=claim_id, subject_type=SUBJECT_TYPE, sent_at__isnull=True)
                .first()
            )
            if claim is None:
                return False
            user = claim.recipient
            now = timezone.now()
            zone = user_zone(user)
            due = digest_day_due(now=now, zone=zone)
            if not user.is_active or due is None or day_key(due) != claim.threshold:
                logger.info("Notification digest %s no longer due; not sent", claim_id)
                claim.delete()
                return False
            categories = list(
                NotificationPreference.objects.filter(
                    user=user, delivery=NotificationPreference.Delivery.DIGEST
                ).values_list("category", flat=True)
            )
            notes = list(
                _pending(now)
                .filter(user=user, category__in=categories)
                # An immediate e-mail of the same row being sent right now keeps it.
                .select_for_update(skip_locked=True)
                .order_by("-created_at", "-pk")
            )
            if not notes:
                claim.delete()
                return False
            _deliver(user, notes, zone)
            Notification.objects.filter(pk__in=[n.pk for n in notes]).update(emailed_at=now)
            claim.sent_at = now
            claim.attempts = F("attempts") + 1
            claim.save(update_fields=["sent_at", "attempts"])
            Reminder.objects.filter(
                subject_type=SUBJECT_TYPE,
                recipient=user,
                sent_at__isnull=True,
                threshold__lt=claim.threshold,
            ).delete()
    except Exception:
        # The failed attempt is counted outside the rolled-back transaction.
        with contextlib.suppress(DatabaseError):
            Reminder.objects.filter(pk=claim_id, sent_at__isnull=True).update(
                attempts=F("attempts") + 1
            )
        raise
    return True


def digest_sections(notes: list[Notification]) -> list[dict]:
    """The notifications grouped by category, in the order of the categories."""
    by_category: dict[str, list[Notification]] = defaultdict(list)
    for note in notes:
        by_category[note.category].append(note)
    return [
        {"label": label, "category": value, "notifications": by_category[value]}
        for value, label in Notification.Category.choices
        if by_category.get(value)
    ]


def _deliver(user, notes: list[Notification], zone: zoneinfo.ZoneInfo) -> None:
    language = user.language or settings.LANGUAGE_CODE
    listed = notes[:MAX_LISTED]
    count = len(notes)
    with translation.override(language):
        subject = ngettext(
            "Your daily digest: %(count)d new notification",
            "Your daily digest: %(count)d new notifications",
            count,
        ) % {"count": count}
    # Times in the e-mail are the person's own.
    with timezone.override(zone):
        send_templated_email(
            to=user,
            template="digest",
            subject=subject,
            context={
                "sections": digest_sections(listed),
                "count": count,
                "unlisted": count - len(listed),
                "centre_url": settings.SITE_URL + reverse("notifications"),
                "settings_url": settings.SITE_URL + reverse("notification_settings"),
                "LANGUAGE_CODE": language,
            },
        )
