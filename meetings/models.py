"""Meetings of a group, the invitees' answers and attendance, date polls, calendar feeds.

Times are stored in UTC. Each meeting (and poll) also keeps the IANA time zone
it was planned in: calendar files name that zone (``DTSTART;TZID=…``) and the
edit form shows the times as they were entered. Everyone else sees them in
their own zone.

A meeting keeps a stable ``uid`` and a ``sequence`` raised on every change, so
that calendar programs update (or cancel) the event they already hold.
"""

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from accounts.models import validate_timezone


def _meeting_uid() -> str:
    return f"{uuid.uuid4()}@expert-group-portal"


def _feed_token() -> str:
    return secrets.token_urlsafe(32)


class Meeting(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")

    group = models.ForeignKey(
        "groups.ExpertGroup", on_delete=models.CASCADE, related_name="meetings"
    )
    uid = models.CharField(max_length=100, unique=True, default=_meeting_uid, editable=False)
    sequence = models.PositiveIntegerField(default=0, editable=False)
    title = models.CharField(_("title"), max_length=200)
    agenda = models.TextField(_("agenda"), blank=True)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    timezone = models.CharField(_("time zone"), max_length=64, validators=[validate_timezone])
    place = models.CharField(_("place"), max_length=300, blank=True)
    online_url = models.URLField(_("online link"), max_length=500, blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.SCHEDULED
    )
    invite_all = models.BooleanField(_("all members invited"), default=True)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    minutes = models.TextField(_("minutes"), blank=True)
    minutes_updated_at = models.DateTimeField(null=True, blank=True)
    # The agenda and the minutes can also be documents of the group (versioned, in documents/).
    agenda_document = models.ForeignKey(
        "documents.Document",
        verbose_name=_("agenda document"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="agenda_of_meetings",
    )
    minutes_document = models.ForeignKey(
        "documents.Document",
        verbose_name=_("minutes document"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="minutes_of_meetings",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: When the start was last set: reminders whose moment had already passed then are skipped.
    times_set_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="meeting_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(online_url="") | Q(online_url__startswith="https://"),
                name="meeting_online_link_https",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "starts_at"]),
            models.Index(fields=["state", "starts_at"]),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("meetings:detail", kwargs={"slug": self.group.slug, "pk": self.pk})

    @property
    def is_cancelled(self) -> bool:
        return self.state == self.State.CANCELLED


class Invitee(models.Model):
    """One person invited to one meeting, their answer and (afterwards) their attendance."""

    class Answer(models.TextChoices):
        YES = "yes", _("Yes")
        NO = "no", _("No")
        MAYBE = "maybe", _("Maybe")

    class Attendance(models.TextChoices):
        PRESENT = "present", _("Present")
        EXCUSED = "excused", _("Excused")
        ABSENT = "absent", _("Absent")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="invitees")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="meeting_invitations"
    )
    answer = models.CharField(_("answer"), max_length=10, choices=Answer.choices, blank=True)
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    attendance = models.CharField(
        _("attendance"), max_length=10, choices=Attendance.choices, blank=True
    )
    invited_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["meeting", "user__full_name"]
        verbose_name = _("invitee")
        verbose_name_plural = _("invitees")
        constraints = [
            models.UniqueConstraint(fields=["meeting", "user"], name="one_invitation_per_meeting")
        ]
        indexes = [models.Index(fields=["user", "meeting"])]

    def __str__(self) -> str:
        return f"{self.user} → {self.meeting}"


class DatePoll(models.Model):
    """Several proposed slots; members vote; the coordinator turns the best one into a meeting."""

    class State(models.TextChoices):
        OPEN = "open", _("Open")
        DECIDED = "decided", _("Decided")
        CANCELLED = "cancelled", _("Cancelled")

    group = models.ForeignKey(
        "groups.ExpertGroup", on_delete=models.CASCADE, related_name="date_polls"
    )
    title = models.CharField(_("title"), max_length=200)
    agenda = models.TextField(_("agenda"), blank=True)
    timezone = models.CharField(_("time zone"), max_length=64, validators=[validate_timezone])
    place = models.CharField(_("place"), max_length=300, blank=True)
    online_url = models.URLField(_("online link"), max_length=500, blank=True)
    closes_at = models.DateTimeField(_("voting closes"))
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.OPEN)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    meeting = models.OneToOneField(
        Meeting, on_delete=models.SET_NULL, null=True, blank=True, related_name="poll"
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("date poll")
        verbose_name_plural = _("date polls")
        constraints = [
            models.CheckConstraint(
                condition=Q(online_url="") | Q(online_url__startswith="https://"),
                name="poll_online_link_https",
            ),
        ]
        indexes = [models.Index(fields=["state", "closes_at"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("meetings:poll_detail", kwargs={"slug": self.group.slug, "pk": self.pk})


class PollSlot(models.Model):
    poll = models.ForeignKey(DatePoll, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="slot_ends_after_start"
            ),
            models.UniqueConstraint(
                fields=["poll", "starts_at", "ends_at"], name="one_slot_per_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M}Z"


class PollVote(models.Model):
    class Choice(models.TextChoices):
        YES = "yes", _("Yes")
        IF_NEED_BE = "if_need_be", _("If need be")
        NO = "no", _("No")

    poll = models.ForeignKey(DatePoll, on_delete=models.CASCADE, related_name="votes")
    slot = models.ForeignKey(PollSlot, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="poll_votes"
    )
    choice = models.CharField(_("answer"), max_length=12, choices=Choice.choices)
    voted_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["slot", "user"], name="one_vote_per_slot")]
        indexes = [models.Index(fields=["poll", "user"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.choice}"


class CalendarFeed(models.Model):
    """The secret of a user's private calendar feed URL. Regenerating it revokes the old URL."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(max_length=64, unique=True, default=_feed_token)
    created_at = models.DateTimeField(auto_now_add=True)
    regenerated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return f"Calendar feed of {self.user}"

    def get_absolute_url(self) -> str:
        return reverse("meetings:feed", kwargs={"token": self.token})


class MeetingEmail(models.Model):
    """A claim for one calendar e-mail: unique per (meeting, recipient, sequence, kind).

    The same mechanism as the reminders (``portal.models.Reminder``): the send
    task creates the claim, locks it while unsent, records the notification,
    sends and marks it sent in one transaction, so a task run twice, retried
    after a failure or taken by two workers at once e-mails the person once.
    """

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("Invitation")
        UPDATE = "update", _("Update")
        CANCELLATION = "cancellation", _("Cancellation")
        UNINVITED = "uninvited", _("No longer invited")

    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="emails")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="meeting_emails"
    )
    #: The meeting's SEQUENCE the e-mail carries.
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("meeting e-mail")
        verbose_name_plural = _("meeting e-mails")
        constraints = [
            models.UniqueConstraint(
                fields=["meeting", "recipient", "sequence", "kind"], name="meeting_email_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} of meeting {self.meeting_id}@{self.sequence} → {self.recipient_id}"
