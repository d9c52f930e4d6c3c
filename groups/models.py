"""Expert groups and networks, their mandates, extension requests and memberships.

The group's lifecycle state is derived from its mandates and dates
(``groups.lifecycle``); only what cannot be derived (archiving, early closure)
is stored.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

MAX_TERMS = 2


class ExpertGroup(models.Model):
    class Kind(models.TextChoices):
        EXPERT_GROUP = "expert_group", _("Expert group")
        NETWORK = "network", _("Network")

    name = models.CharField(_("name"), max_length=150, unique=True)
    slug = models.SlugField(_("short name in addresses"), max_length=80, unique=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=Kind.choices, default=Kind.EXPERT_GROUP
    )
    summary = models.CharField(
        _("public summary"),
        max_length=600,
        help_text=_("Shown to everyone, including visitors who are not signed in."),
    )
    description = models.TextField(
        _("description for members"), blank=True, help_text=_("Only members see this.")
    )
    standing_membership = models.BooleanField(
        _("standing membership"),
        default=False,
        help_text=_("Members stay when the mandate is extended instead of confirming again."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(_("closed early on"), null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    close_reason = models.TextField(_("reason for closing early"), blank=True)
    archived_at = models.DateTimeField(_("archived on"), null=True, blank=True, db_index=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("expert group or network")
        verbose_name_plural = _("expert groups and networks")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("groups:detail", kwargs={"slug": self.slug})

    def get_public_url(self) -> str:
        return reverse("groups:public_detail", kwargs={"slug": self.slug})

    # The lifecycle is computed from prefetched mandates; see groups/lifecycle.py.
    @property
    def lifecycle(self):
        from .lifecycle import lifecycle_of

        if not hasattr(self, "_lifecycle"):
            self._lifecycle = lifecycle_of(self)
        return self._lifecycle

    @property
    def state(self) -> str:
        return self.lifecycle.state

    @property
    def state_label(self) -> str:
        return self.lifecycle.label

    @property
    def state_css(self) -> str:
        return self.lifecycle.css

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class Mandate(models.Model):
    """One term of two years. Term 1 is given at creation; term 2 is the one extension."""

    group = models.ForeignKey(ExpertGroup, on_delete=models.CASCADE, related_name="mandates")
    term = models.PositiveSmallIntegerField(_("term"))
    start_date = models.DateField(_("start"))
    end_date = models.DateField(_("end"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["group", "term"]
        verbose_name = _("mandate")
        verbose_name_plural = _("mandates")
        constraints = [
            models.UniqueConstraint(fields=["group", "term"], name="one_mandate_per_term"),
            models.CheckConstraint(
                condition=Q(term__gte=1) & Q(term__lte=MAX_TERMS), name="at_most_two_terms"
            ),
            models.CheckConstraint(
                condition=Q(end_date__gt=models.F("start_date")), name="mandate_ends_after_start"
            ),
        ]
        indexes = [models.Index(fields=["end_date"])]

    def __str__(self) -> str:
        return f"{self.group} — term {self.term} ({self.start_date} – {self.end_date})"


class ExtensionRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for the secretariat")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")

    group = models.ForeignKey(
        ExpertGroup, on_delete=models.CASCADE, related_name="extension_requests"
    )
    mandate = models.ForeignKey(
        Mandate, on_delete=models.CASCADE, related_name="extension_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    justification = models.TextField(_("justification"))
    requested_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["group"], condition=Q(state="pending"), name="one_pending_extension"
            ),
            models.UniqueConstraint(
                fields=["group"], condition=Q(state="approved"), name="one_approved_extension"
            ),
        ]

    def __str__(self) -> str:
        return f"Extension of {self.group} ({self.state})"


class Membership(models.Model):
    """One stint of one person in one group in one role. Rows are closed, never rewritten."""

    class Role(models.TextChoices):
        MEMBER = "member", _("Member")
        COORDINATOR = "coordinator", _("Coordinator")

    class State(models.TextChoices):
        REQUESTED = "requested", _("Asked to join")
        INVITED = "invited", _("Invited")
        ACTIVE = "active", _("Active")
        DECLINED = "declined", _("Declined")
        LEFT = "left", _("Left")
        REMOVED = "removed", _("Removed")
        ENDED = "ended", _("Ended")  # role changed, or not renewed for a new term

    OPEN_STATES = (State.REQUESTED, State.INVITED, State.ACTIVE)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    group = models.ForeignKey(ExpertGroup, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.MEMBER)
    state = models.CharField(_("state"), max_length=20, choices=State.choices)
    motivation = models.TextField(_("motivation"), blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=200, blank=True)
    confirmed_term = models.PositiveSmallIntegerField(
        default=1, help_text="The latest mandate term this member confirmed."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "group"],
                condition=Q(state__in=["requested", "invited", "active"]),
                name="one_open_membership",
            )
        ]
        indexes = [models.Index(fields=["group", "state", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.group} ({self.role}, {self.state})"


def _invitation_token() -> str:
    return secrets.token_urlsafe(32)


class Invitation(models.Model):
    """An invitation by e-mail; works for people who have no account yet."""

    group = models.ForeignKey(ExpertGroup, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail address"))
    token = models.CharField(max_length=64, unique=True, default=_invitation_token)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    message = models.TextField(_("personal message"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    declined_at = models.DateTimeField(null=True, blank=True)
    membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "email"],
                condition=Q(accepted_at__isnull=True, declined_at__isnull=True),
                name="one_open_invitation_per_email",
            )
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} to {self.group}"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.declined_at is None


# --- Chat -----------------------------------------------------------------
# Each group has one chat room. Messages are stored first, then broadcast
# (groups/chat.py); ``seq`` numbers a group's messages 1, 2, 3… without gaps, so
# a client that saw message n asks for everything after n and can tell when it
# missed one.


class ChatMessage(models.Model):
    group = models.ForeignKey(ExpertGroup, on_delete=models.CASCADE, related_name="chat_messages")
    seq = models.PositiveIntegerField(_("number in the room"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    body = models.TextField(_("message"), blank=True)
    reply_to = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="replies"
    )
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    # A group document the message links to (validated by ``chat_message_post``).
    document = models.ForeignKey(
        "documents.Document",
        verbose_name=_("linked document"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Chosen by the sending browser, so that a message re-sent after a dropped
    # connection is stored once.
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True, db_index=True)
    edited_at = models.DateTimeField(_("edited at"), null=True, blank=True)
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("deleted by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["group", "seq"]
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")
        constraints = [
            models.UniqueConstraint(fields=["group", "seq"], name="one_chat_seq_per_group"),
            models.UniqueConstraint(
                fields=["author", "client_id"],
                condition=~Q(client_id=""),
                name="one_chat_message_per_client_id",
            ),
        ]
        indexes = [
            models.Index(fields=["group", "edited_at"]),
            models.Index(fields=["group", "deleted_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.group_id}#{self.seq}"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class ChatMessageEdit(models.Model):
    """The text a message had before one edit: the history of a message."""

    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="edits")
    body = models.TextField(_("previous text"))
    edited_at = models.DateTimeField(_("edited at"))

    class Meta:
        ordering = ["message", "edited_at", "pk"]
        verbose_name = _("chat message edit")
        verbose_name_plural = _("chat message edits")

    def __str__(self) -> str:
        return f"Edit of {self.message_id} at {self.edited_at:%Y-%m-%d %H:%M}"


class ChatReadMarker(models.Model):
    """How far a member has read a group's chat: unread = messages after ``last_read_seq``."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_read_markers"
    )
    group = models.ForeignKey(ExpertGroup, on_delete=models.CASCADE, related_name="+")
    last_read_seq = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "group"], name="one_chat_marker_per_group")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.group_id} up to {self.last_read_seq}"


class ChatPresence(models.Model):
    """One open chat socket. Rows not refreshed for a while are stale (a process died)."""

    group = models.ForeignKey(ExpertGroup, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel_name = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["group", "seen_at"])]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.group_id}"


class ChatRoom(models.Model):
    """The number of a group's last chat message. Posting takes the next number under this
    row's lock, so numbers have no gaps and commit in order."""

    group = models.OneToOneField(
        ExpertGroup, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    last_seq = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.group_id} at {self.last_seq}"


# --- Archive package --------------------------------------------------------
# The record of a group kept for years: one ZIP with its documents, meetings,
# chat, mandates, memberships and activity, and a manifest (groups/archive.py).


class ArchivePackage(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting to be built")
        RUNNING = "running", _("Being built")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")
        SUPERSEDED = "superseded", _("Replaced by a newer package")

    RUNNING_STATES = (State.QUEUED, State.RUNNING)

    group = models.ForeignKey(
        ExpertGroup, on_delete=models.PROTECT, related_name="archive_packages"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    include_all_versions = models.BooleanField(_("all versions of every document"), default=False)
    language = models.CharField(max_length=10, default="en")
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.QUEUED, db_index=True
    )
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    # Moves while a worker builds; a run whose heartbeat stopped was interrupted.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    files_done = models.PositiveIntegerField(default=0)
    files_total = models.PositiveIntegerField(default=0)
    storage_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    size = models.BigIntegerField(_("size"), null=True, blank=True)
    sha256 = models.CharField(_("SHA-256"), max_length=64, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True)
    file_count = models.PositiveIntegerField(_("files"), default=0)
    error = models.TextField(blank=True)
    verify_requested_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    verified_ok = models.BooleanField(null=True, blank=True)
    verify_report = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("archive package")
        verbose_name_plural = _("archive packages")
        constraints = [
            models.UniqueConstraint(
                fields=["group"],
                condition=Q(state__in=["queued", "running"]),
                name="one_archive_run_per_group",
            )
        ]

    def __str__(self) -> str:
        return f"Archive package of {self.group} ({self.state})"

    @property
    def percent(self) -> int:
        if self.state == self.State.READY:
            return 100
        if not self.files_total:
            return 0
        return min(99, int(100 * self.files_done / self.files_total))

    @property
    def is_running(self) -> bool:
        return self.state in self.RUNNING_STATES

    @property
    def is_being_checked(self) -> bool:
        requested = self.verify_requested_at
        return requested is not None and (self.verified_at is None or self.verified_at < requested)
