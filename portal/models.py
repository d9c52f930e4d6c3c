"""Site-wide records: activity, notifications and reminder claims."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Activity(models.Model):
    """One significant action, recorded once by the service that did it.

    Feeds a group's timeline and the secretariat's audit view.
    """

    group = models.ForeignKey(
        "groups.ExpertGroup",
        verbose_name=_("group"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="activities",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    verb = models.CharField(_("what"), max_length=64, db_index=True)
    summary = models.CharField(_("summary"), max_length=300)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        indexes = [models.Index(fields=["group", "-created_at"])]

    def __str__(self) -> str:
        return self.summary


class Notification(models.Model):
    class Category(models.TextChoices):
        MEMBERSHIP = "membership", _("Membership")
        MANDATE = "mandate", _("Mandates")
        DOCUMENTS = "documents", _("Documents")
        MEETINGS = "meetings", _("Meetings")
        CHAT = "chat", _("Chat mentions")
        ACCOUNT = "account", _("Your account and data")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    category = models.CharField(_("category"), max_length=20, choices=Category.choices)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(fields=["user", "read_at"]),
            models.Index(fields=["user", "emailed_at"]),
        ]

    def __str__(self) -> str:
        return self.title


class NotificationPreference(models.Model):
    class Delivery(models.TextChoices):
        IMMEDIATELY = "immediately", _("E-mail me at once")
        DIGEST = "digest", _("Daily digest")
        OFF = "off", _("No e-mail")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    category = models.CharField(max_length=20, choices=Notification.Category.choices)
    delivery = models.CharField(
        max_length=20, choices=Delivery.choices, default=Delivery.IMMEDIATELY
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "category"], name="one_preference_per_category")
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.category}: {self.delivery}"


class Reminder(models.Model):
    """A claim for one reminder to one person: unique per (subject, threshold, recipient).

    The scan creates rows; the send task locks an unsent row, sends, and marks it
    sent in the same transaction, so double runs and concurrent workers send once.
    """

    subject_type = models.CharField(max_length=32)  # "mandate", "meeting", "poll"
    subject_id = models.BigIntegerField()
    threshold = models.IntegerField()  # days (mandates) or minutes (meetings) before; 0 = ended
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "threshold", "recipient"],
                name="reminder_once_per_recipient",
            )
        ]
        indexes = [models.Index(fields=["sent_at", "queued_at"])]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id}@{self.threshold} → {self.recipient_id}"
