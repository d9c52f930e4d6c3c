"""Celery tasks for site-wide pieces: thin adapters over services."""

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from .email import send_templated_email
from .models import Notification


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
        send_templated_email(
            to=note.user,
            template="notification",
            context={"notification": note},
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
