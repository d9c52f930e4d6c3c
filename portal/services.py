"""Site-wide writes: the activity record and notifications."""

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .models import Activity, Notification, NotificationPreference


def activity_record(*, actor, verb: str, summary: str, group=None, data: dict | None = None):
    """Record one significant action. Called once, by the service that did it."""
    return Activity.objects.create(
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        verb=verb,
        summary=summary[:300],
        group=group,
        data=data or {},
    )


def _text(value) -> str:
    return str(value() if callable(value) else value)


def delivery_for(user, category: str) -> str:
    pref = NotificationPreference.objects.filter(user=user, category=category).first()
    return pref.delivery if pref else NotificationPreference.Delivery.IMMEDIATELY


def notify(
    *, users: Iterable, category: str, title: str, body: str = "", url: str = ""
) -> list[Notification]:
    """Put a notification in each user's notification centre and e-mail it per preferences.

    ``title`` and ``body`` may be callables (or lazy strings): they are evaluated in
    each recipient's own language, so everyone reads their notification in theirs.
    """
    users = [u for u in {u.pk: u for u in users}.values() if u.is_active]
    if not users:
        return []
    notes = []
    for u in users:
        with translation.override(u.language or settings.LANGUAGE_CODE):
            notes.append(
                Notification(
                    user=u,
                    category=category,
                    title=_text(title)[:200],
                    body=_text(body),
                    url=url,
                )
            )
    notes = Notification.objects.bulk_create(notes)
    prefs = dict(
        NotificationPreference.objects.filter(user__in=users, category=category).values_list(
            "user_id", "delivery"
        )
    )
    immediate = [
        n.pk
        for n in notes
        if prefs.get(n.user_id, NotificationPreference.Delivery.IMMEDIATELY)
        == NotificationPreference.Delivery.IMMEDIATELY
    ]
    if immediate:
        from .tasks import send_notification_email

        for pk in immediate:
            transaction.on_commit(lambda pk=pk: send_notification_email.delay(pk))
    return notes


def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    _forget_unread(user)
    return qs.update(read_at=timezone.now())


def _forget_unread(user) -> None:
    """Drop the unread count ``selectors.navigation_facts`` keeps on the user object."""
    if getattr(user, "_unread_notifications", None) is not None:
        user._unread_notifications = None


def notification_open(*, user, notification_id: int) -> Notification:
    """The user's own notification, marked read now (once: an earlier read time stays).

    Raises ``Notification.DoesNotExist`` for a notification that does not exist or
    is someone else's: the same answer for both.
    """
    note = Notification.objects.get(pk=notification_id, user=user)
    if note.read_at is None:
        note.read_at = timezone.now()
        Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=note.read_at)
        _forget_unread(user)
    return note


def notification_preferences_set(*, user, choices: dict[str, str]) -> None:
    """Save the person's e-mail choice per category, all of them or none.

    Raises ``ValidationError`` (and changes nothing) for an unknown category or
    delivery. Categories left out keep their current choice.
    """
    categories = set(Notification.Category.values)
    deliveries = set(NotificationPreference.Delivery.values)
    errors = {}
    for category, delivery in choices.items():
        if category not in categories:
            errors[category] = _("There is no such kind of notification.")
        elif delivery not in deliveries:
            errors[category] = _("Choose one of the options offered.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        for category, delivery in choices.items():
            NotificationPreference.objects.update_or_create(
                user=user, category=category, defaults={"delivery": delivery}
            )
