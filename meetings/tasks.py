"""Celery tasks for meetings: thin adapters over the reminder and e-mail functions.

Tasks take ids, re-read their rows and return early when there is nothing
(left) to do, so a task queued before a change, or run twice, does no harm.
"""

import smtplib

from celery import shared_task

from . import mail, reminders

#: Sending mail fails with these when the SMTP server is down or refuses for a while.
MAIL_ERRORS = (OSError, smtplib.SMTPException)
RETRY = {
    "acks_late": True,
    "autoretry_for": MAIL_ERRORS,
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "max_retries": 8,
}


@shared_task
def scan_meeting_reminders() -> int:
    """Beat: claim the meeting and poll reminders that are due and queue one send each."""
    return reminders.meeting_reminders_scan()


@shared_task(**RETRY)
def send_meeting_reminder(reminder_id: int) -> bool:
    """Send one claimed meeting reminder, once; retried when the mail server fails."""
    return reminders.meeting_reminder_send(reminder_id=reminder_id)


@shared_task(**RETRY)
def send_poll_reminder(reminder_id: int) -> bool:
    """Send one claimed poll reminder, once; retried when the mail server fails."""
    return reminders.poll_reminder_send(reminder_id=reminder_id)


@shared_task(**RETRY)
def send_meeting_email(meeting_id: int, user_id: int, kind: str) -> bool:
    """Send one calendar invitation, update or cancellation (see ``meetings.mail``)."""
    return mail.meeting_email_send(meeting_id=meeting_id, user_id=user_id, kind=kind)
