"""Celery tasks for groups: thin adapters over the reminder service and e-mails.

Tasks take ids, re-fetch their rows and return early when the row is gone, so
that a task queued before a deletion, or run twice, does no harm.
"""

import smtplib

from celery import shared_task
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from portal.email import send_templated_email

from . import archive, reminders
from .models import Invitation

#: Sending mail fails with these when the SMTP server is down or refuses for a while.
MAIL_ERRORS = (OSError, smtplib.SMTPException)


@shared_task
def scan_mandate_reminders() -> int:
    """Beat: claim the mandate reminders that are due and queue one send task each."""
    return reminders.mandate_reminders_scan()


@shared_task(
    acks_late=True,
    autoretry_for=MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def send_mandate_reminder(reminder_id: int) -> bool:
    """Send one claimed mandate reminder, once; retried when the mail server fails."""
    return reminders.mandate_reminder_send(reminder_id=reminder_id)


@shared_task(
    acks_late=True,
    autoretry_for=MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def send_invitation_email(invitation_id: int) -> bool:
    """E-mail an open invitation, in the invitee's language when they have an account."""
    from accounts.models import User

    invitation = (
        Invitation.objects.select_related("group", "invited_by").filter(pk=invitation_id).first()
    )
    if invitation is None or not invitation.is_open:
        return False
    account = User.objects.filter(email__iexact=invitation.email, is_active=True).first()
    language = (account.language if account else "") or settings.LANGUAGE_CODE
    group = invitation.group
    inviter = invitation.invited_by
    with translation.override(language):
        if inviter is not None:
            subject = _("%(inviter)s invites you to join %(group)s") % {
                "inviter": inviter.get_full_name() or inviter.email,
                "group": group.name,
            }
        else:
            subject = _("You are invited to join %(group)s") % {"group": group.name}
    send_templated_email(
        to=account or invitation.email,
        template="group_invitation",
        subject=subject,
        context={
            "invitation": invitation,
            "group": group,
            "inviter": inviter,
            "invitee_name": account.get_short_name() if account else "",
            "has_account": account is not None,
            "invitation_url": settings.SITE_URL
            + reverse("groups:invitation", kwargs={"token": invitation.token}),
            "LANGUAGE_CODE": language,
        },
    )
    return True


@shared_task(acks_late=True)
def build_archive_package(package_id: int) -> bool:
    """Build one queued archive package; a second delivery of the same run does nothing."""
    return archive.archive_package_build(package_id=package_id)


@shared_task
def resume_archive_packages() -> int:
    """Beat: queue again the package runs that a stopped worker left behind."""
    return archive.archive_packages_resume()


@shared_task
def verify_archive_package(package_id: int) -> bool:
    """Check a stored package against its manifest; the outcome is recorded on the row."""
    from .models import ArchivePackage

    package = ArchivePackage.objects.select_related("group").filter(pk=package_id).first()
    if package is None or not package.storage_key:
        return False
    return archive.archive_package_verify(package=package).verified_ok
