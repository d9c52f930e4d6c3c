"""A person's rights over their data: take all of it (export), and leave (delete the account).

The export is a ZIP built by a worker (``tasks.build_personal_export``) with
the same packaging as the archive package, and a manifest. Deleting an account
anonymises the user row instead of removing it: the group records the person
took part in (messages, documents, memberships, attendance) stay consistent
and show "Former member", and archive packages built before stay intact.
"""

import logging
from datetime import UTC, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q, Value
from django.db.models.functions import Replace
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.packaging import PackageWriter, build_package, delete_stored
from portal.services import activity_record, notify

from .models import DELETED_EMAIL_DOMAIN, PersonalExport, User

log = logging.getLogger(__name__)
State = PersonalExport.State


class PersonalDataError(Exception):
    """The request cannot be carried out; the message says why, for the user."""


def _utc(value) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


# --- Export --------------------------------------------------------------------


def personal_export_request(*, actor: User) -> PersonalExport:
    """Queue the export of everything the portal holds about ``actor`` (only for oneself)."""
    if not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied
    try:
        with transaction.atomic():
            export = PersonalExport.objects.create(user=actor)
    except IntegrityError:
        raise PersonalDataError(
            _("Your data is being prepared already. You will be notified when it is ready.")
        ) from None
    transaction.on_commit(lambda: _queue(export.pk))
    return export


def _queue(export_id: int) -> None:
    from .tasks import build_personal_export

    build_personal_export.delay(export_id)


def personal_export_build(*, export_id: int) -> bool:
    """Build a queued export; False when there is nothing to do (taken, or gone)."""
    now = timezone.now()
    if not PersonalExport.objects.filter(pk=export_id, state=State.QUEUED).update(
        state=State.RUNNING, started_at=now
    ):
        return False
    export = PersonalExport.objects.select_related("user").get(pk=export_id)
    user = export.user
    try:
        with translation.override(user.language or settings.LANGUAGE_CODE):
            result = build_package(
                prefix=f"exports/{user.pk}",
                top=f"my-data-{now:%Y-%m-%d}",
                fill=lambda writer: _fill(writer, user),
            )
    except Exception as exc:
        log.exception("personal export %s failed", export_id)
        PersonalExport.objects.filter(pk=export_id).update(
            state=State.FAILED, finished_at=timezone.now(), error=str(exc)[:2000]
        )
        return False
    PersonalExport.objects.filter(pk=export_id).update(
        state=State.READY,
        finished_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=settings.PERSONAL_EXPORT_DAYS),
        storage_key=result.storage_key,
        size=result.size,
        sha256=result.sha256,
    )
    from django.urls import reverse

    notify(
        users=[user],
        category="account",
        title=lambda: _("Your data is ready to download"),
        body=lambda: (
            _("The file can be downloaded for %(days)d days.")
            % {"days": settings.PERSONAL_EXPORT_DAYS}
        ),
        url=reverse("accounts:my_data"),
    )
    return True


def personal_exports_expire(*, now=None) -> int:
    """Delete ready exports past their date (files first, then the row's key)."""
    now = now or timezone.now()
    expired = list(PersonalExport.objects.filter(state=State.READY, expires_at__lte=now))
    for export in expired:
        delete_stored(export.storage_key)
    PersonalExport.objects.filter(pk__in=[e.pk for e in expired]).update(
        state=State.EXPIRED, storage_key=None
    )
    return len(expired)


def _fill(writer: PackageWriter, user: User) -> dict:
    from allauth.account.models import EmailAddress

    from documents.models import RestrictedDownload, Version
    from groups.models import ChatMessage, Membership
    from meetings.models import Invitee, PollVote
    from portal.models import Activity, Notification, NotificationPreference

    writer.add_json(
        "profile.json",
        {
            "email": user.email,
            "email_addresses": [
                {"email": a.email, "verified": a.verified, "primary": a.primary}
                for a in EmailAddress.objects.filter(user=user)
            ],
            "full_name": user.full_name,
            "organisation": user.organisation,
            "country": user.country.code if user.country else "",
            "jurisdiction": user.jurisdiction,
            "languages": user.languages,
            "expertise": [area.name for area in user.expertise.all()],
            "time_zone": user.timezone,
            "language": user.language,
            "bio": user.bio,
            "shown_in_directory": user.directory_visible,
            "joined": _utc(user.date_joined),
            "last_login": _utc(user.last_login),
            "notification_preferences": {
                p.category: p.delivery for p in NotificationPreference.objects.filter(user=user)
            },
        },
    )
    writer.add_csv(
        "memberships.csv",
        [
            "group",
            "role",
            "state",
            "motivation",
            "asked_or_invited_at_utc",
            "started_at_utc",
            "ended_at_utc",
            "end_reason",
        ],
        (
            [
                m.group.name,
                m.role,
                m.state,
                m.motivation,
                _utc(m.created_at),
                _utc(m.started_at),
                _utc(m.ended_at),
                m.end_reason,
            ]
            for m in Membership.objects.filter(user=user)
            .select_related("group")
            .order_by("created_at")
        ),
    )
    writer.add_csv(
        "chat-messages.csv",
        [
            "group",
            "number",
            "sent_at_utc",
            "text",
            "edited_at_utc",
            "deleted_at_utc",
            "earlier_versions",
        ],
        (
            [
                m.group.name,
                m.seq,
                _utc(m.created_at),
                m.body,
                _utc(m.edited_at),
                _utc(m.deleted_at),
                " | ".join(e.body for e in m.edits.all()),
            ]
            for m in ChatMessage.objects.filter(author=user)
            .select_related("group")
            .prefetch_related("edits")
            .order_by("created_at", "pk")
        ),
    )
    writer.add_csv(
        "uploads.csv",
        [
            "group",
            "document",
            "version",
            "file_name",
            "size",
            "sha256",
            "type",
            "uploaded_at_utc",
            "comment",
        ],
        (
            [
                v.document.group.name,
                v.document.title,
                v.number,
                v.original_name,
                v.size,
                v.sha256,
                v.content_type,
                _utc(v.uploaded_at),
                v.comment,
            ]
            for v in Version.objects.filter(uploaded_by=user)
            .select_related("document__group")
            .order_by("uploaded_at", "pk")
        ),
    )
    writer.add_csv(
        "restricted-downloads.csv",
        ["group", "document", "confirmed_at_utc"],
        (
            [r.document.group.name, r.document.title, _utc(r.confirmed_at)]
            for r in RestrictedDownload.objects.filter(user=user).select_related("document__group")
        ),
    )
    writer.add_csv(
        "meeting-answers.csv",
        ["group", "meeting", "starts_at_utc", "answer", "comment", "answered_at_utc", "attendance"],
        (
            [
                i.meeting.group.name,
                i.meeting.title,
                _utc(i.meeting.starts_at),
                i.answer,
                i.comment,
                _utc(i.answered_at),
                i.attendance,
            ]
            for i in Invitee.objects.filter(user=user)
            .select_related("meeting__group")
            .order_by("meeting__starts_at")
        ),
    )
    writer.add_csv(
        "poll-votes.csv",
        ["group", "poll", "slot_starts_at_utc", "answer", "voted_at_utc"],
        (
            [v.poll.group.name, v.poll.title, _utc(v.slot.starts_at), v.choice, _utc(v.voted_at)]
            for v in PollVote.objects.filter(user=user)
            .select_related("poll__group", "slot")
            .order_by("voted_at")
        ),
    )
    writer.add_csv(
        "notifications.csv",
        ["created_at_utc", "category", "title", "message", "read_at_utc"],
        (
            [_utc(n.created_at), n.category, n.title, n.body, _utc(n.read_at)]
            for n in Notification.objects.filter(user=user).order_by("created_at")
        ),
    )
    writer.add_csv(
        "my-actions.csv",
        ["when_utc", "group", "what", "summary"],
        (
            [_utc(a.created_at), a.group.name if a.group else "", a.verb, a.summary]
            for a in Activity.objects.filter(actor=user)
            .select_related("group")
            .order_by("created_at")
        ),
    )
    writer.add_text(
        "README.txt",
        _(
            "This archive holds the data the Expert Group Portal keeps about you, as of "
            "%(when)s (UTC). profile.json is your profile; the CSV files list your "
            "memberships, chat messages, uploaded files (their details), meeting answers, "
            "poll votes, notifications and your recorded actions. manifest.json and "
            "SHA256SUMS list every file with its SHA-256."
        )
        % {"when": timezone.now().astimezone(UTC).strftime("%Y-%m-%d %H:%M")}
        + "\n",
    )
    return {"person": user.email, "generated_at": _utc(timezone.now())}


# --- Account deletion --------------------------------------------------------


def _groups_needing(user) -> list:
    """Writable groups in which ``user`` is the only active coordinator."""
    from django.db.models import Count

    from groups.models import Membership
    from groups.selectors import groups_with_lifecycle

    mine = Membership.objects.filter(
        user=user, state=Membership.State.ACTIVE, role=Membership.Role.COORDINATOR
    ).values("group_id")
    groups = (
        groups_with_lifecycle()
        .filter(pk__in=mine)
        .annotate(
            coordinators=Count(
                "memberships",
                filter=Q(
                    memberships__state=Membership.State.ACTIVE,
                    memberships__role=Membership.Role.COORDINATOR,
                ),
            )
        )
    )
    return [g for g in groups if g.coordinators == 1 and g.lifecycle.writable]


def account_delete(*, actor: User, user: User, password: str) -> User:
    """Delete one's own account: personal data removed, the row kept anonymised.

    Refused for the last coordinator of a group that still works (they must hand
    over first) and without the current password. Everything happens in one
    transaction; stored export files go once it has committed.
    """
    if not getattr(actor, "is_authenticated", False) or actor.pk != user.pk:
        raise PermissionDenied
    if user.deleted_at is not None:
        raise PersonalDataError(_("This account has been deleted already."))
    if not user.check_password(password or ""):
        raise PersonalDataError(_("The password is not correct."))
    blocking = _groups_needing(user)
    if blocking:
        raise PersonalDataError(
            _(
                "You are the only coordinator of %(groups)s. Appoint another coordinator "
                "or ask the secretariat to do so before you delete your account."
            )
            % {"groups": ", ".join(f"“{g.name}”" for g in blocking)}
        )
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        email = user.email
        names = [n for n in {user.full_name.strip(), email} if len(n) >= 3]
        keys = _erase(user)
        _activities_forget(user, email=email, names=names)
        activity_record(actor=None, verb="account.deleted", summary="An account was deleted")
        transaction.on_commit(lambda: [delete_stored(k) for k in keys])
    return user


def _activities_forget(user: User, *, email: str, names: list[str]) -> None:
    """Take the deleted person's name and address out of the activity log.

    What the timeline and the audit page show names people by user id, so it reads
    "Former member" by itself (``portal.activity_text``). The stored English
    summaries (CSV export, archive packages) still spell names out, and an
    invitation sent before the person had an account keeps the address in its
    data: both are rewritten here.
    """
    from portal.models import Activity

    for name in names:
        # Summaries are English whatever the language of the person deleting.
        Activity.objects.filter(summary__contains=name).update(
            summary=Replace("summary", Value(name), Value("Former member"))
        )
    for activity in Activity.objects.filter(verb="membership.invited", data__email__iexact=email):
        activity.data = {**activity.data, "email": None, "member": user.pk}
        activity.save(update_fields=["data"])


def _erase(user: User) -> list[str]:
    """Remove or anonymise everything personal of ``user``; returns file keys to delete."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator

    from groups.models import ChatMessage, ChatPresence, ChatReadMarker, Invitation, Membership
    from groups.rules import forget_memberships
    from meetings.models import CalendarFeed, Invitee, PollVote
    from portal.models import Notification, NotificationPreference, Reminder

    now = timezone.now()
    email = user.email
    Membership.objects.filter(user=user, state__in=Membership.OPEN_STATES).update(
        state=Membership.State.LEFT, ended_at=now, end_reason="account deleted"
    )
    forget_memberships(user)
    Invitation.objects.filter(
        email__iexact=email, accepted_at__isnull=True, declined_at__isnull=True
    ).update(declined_at=now)
    Invitation.objects.filter(email__iexact=email).update(
        email=f"former-member-{user.pk}@{DELETED_EMAIL_DOMAIN}"
    )
    Invitee.objects.filter(user=user, meeting__starts_at__gt=now).delete()
    PollVote.objects.filter(user=user, poll__state="open").delete()
    ChatMessage.mentions.through.objects.filter(user=user).delete()
    for model in (
        EmailAddress,
        Authenticator,
        Notification,
        NotificationPreference,
        CalendarFeed,
        ChatReadMarker,
        ChatPresence,
    ):
        model.objects.filter(user=user).delete()
    Reminder.objects.filter(recipient=user, sent_at__isnull=True).delete()
    keys = list(
        user.personal_exports.exclude(storage_key=None).values_list("storage_key", flat=True)
    )
    user.personal_exports.all().delete()
    user.expertise.clear()
    user.groups.clear()
    user.user_permissions.clear()
    user.email = f"former-member-{user.pk}@{DELETED_EMAIL_DOMAIN}"
    user.full_name = ""
    user.organisation = ""
    user.country = ""
    user.jurisdiction = ""
    user.languages = []
    user.bio = ""
    user.directory_visible = False
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.deleted_at = now
    user.set_unusable_password()
    user.save()
    return keys
