"""Celery tasks for site-wide pieces: thin adapters over services."""

import smtplib

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import digest, services
from .email import send_templated_email
from .models import Notification, NotificationPreference

#: Sending mail fails with these when the SMTP server is down or refuses for a while.
MAIL_ERRORS = (OSError, smtplib.SMTPException)


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=30, max_retries=8)
def send_notification_email(self, notification_id: int) -> bool:
    """E-mail one notification, once: the row is locked and marked in one transaction."""
    with transaction.atomic():
        note = (
            Notification.objects.select_for_update(skip_locked=True)
            .select_related("user")
            .filter(pk=notification_id, emailed_at__isnull=True)
            .first()
        )
        if note is None:
            return False
        # The person may have chosen the digest or no e-mail since it was queued.
        if services.delivery_for(note.user, note.category) != (
            NotificationPreference.Delivery.IMMEDIATELY
        ):
            return False
        send_templated_email(
            to=note.user,
            template="notification",
            context={
                "notification": note,
                "LANGUAGE_CODE": note.user.language or settings.LANGUAGE_CODE,
            },
            subject=note.title,
        )
        note.emailed_at = timezone.now()
        note.save(update_fields=["emailed_at"])
    return True


@shared_task
def enforce_retention() -> dict:
    """Beat: apply the retention rules (chat of archived groups, document bins, exports)."""
    from accounts.personal_data import personal_exports_expire
    from documents.services import bin_retention_enforce
    from groups.chat import chat_retention_enforce

    return {
        "chat_messages": chat_retention_enforce(),
        "documents": bin_retention_enforce(),
        "exports": personal_exports_expire(),
    }


@shared_task
def scan_notification_digests() -> int:
    """Beat: claim the daily digests that are due and queue one send task each."""
    return digest.notification_digests_scan()


@shared_task(
    acks_late=True,
    autoretry_for=MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def send_notification_digest(claim_id: int) -> bool:
    """Send one claimed daily digest, once; retried when the mail server fails."""
    return digest.notification_digest_send(claim_id=claim_id)
