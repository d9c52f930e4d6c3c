"""Every write to groups, mandates and memberships.

Each function checks permission, validates, writes in one transaction,
records the activity and queues side effects (notifications, e-mails) on
commit. Errors are ``GroupError`` (a ``ValidationError``) with a message meant
for the user; nothing is written when one is raised.
"""

from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.rules import is_secretariat
from portal.services import activity_record, notify

from .lifecycle import lifecycle_of
from .models import ExpertGroup, ExtensionRequest, Invitation, Mandate, Membership
from .rules import forget_memberships

Role = Membership.Role
State = Membership.State


class GroupError(ValidationError):
    """A rule of the domain refused the action; the message says why."""


def _require(user, perm: str, group) -> None:
    if not user.has_perm(perm, group):
        raise PermissionDenied


def add_years(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def mandate_end(start: date) -> date:
    return add_years(start, settings.MANDATE_YEARS)


def _coordinators(group):
    return [
        m.user
        for m in Membership.objects.filter(
            group=group, state=State.ACTIVE, role=Role.COORDINATOR
        ).select_related("user")
    ]


def _secretariat_users():
    from accounts.models import User

    return list(
        User.objects.filter(is_active=True, groups__name=settings.SECRETARIAT_GROUP).distinct()
    )


def _refresh(group) -> ExpertGroup:
    """Re-read the group so its lifecycle reflects what was just written."""
    group.__dict__.pop("_lifecycle", None)
    group.__dict__.pop("pending_extension_pk", None)
    if hasattr(group, "_prefetched_objects_cache"):
        group._prefetched_objects_cache = {}
    return group


# --- Groups --------------------------------------------------------------


@transaction.atomic
def group_create(
    *,
    actor,
    name: str,
    slug: str,
    kind: str,
    summary: str,
    description: str = "",
    standing_membership: bool = False,
    start_date: date,
    coordinators=(),
) -> ExpertGroup:
    """Create a group with its first two-year term and its coordinators (secretariat)."""
    if not is_secretariat(actor):
        raise PermissionDenied
    today = timezone.localdate()
    if start_date < today - timedelta(days=settings.MANDATE_START_MAX_PAST_DAYS):
        raise GroupError(
            _("The mandate cannot start more than %(days)d days in the past.")
            % {"days": settings.MANDATE_START_MAX_PAST_DAYS},
            code="start_too_early",
        )
    if ExpertGroup.objects.filter(slug=slug).exists():
        raise GroupError(_("Another group already uses this short name."), code="slug_taken")
    group = ExpertGroup.objects.create(
        name=name,
        slug=slug,
        kind=kind,
        summary=summary,
        description=description,
        standing_membership=standing_membership,
        created_by=actor,
    )
    Mandate.objects.create(
        group=group, term=1, start_date=start_date, end_date=mandate_end(start_date)
    )
    now = timezone.now()
    for user in coordinators:
        Membership.objects.create(
            user=user,
            group=group,
            role=Role.COORDINATOR,
            state=State.ACTIVE,
            decided_by=actor,
            started_at=now,
        )
    activity_record(
        actor=actor,
        verb="group.created",
        group=group,
        summary=f"Group “{name}” created, term 1 from {start_date}",
        data={"name": name, "start_date": start_date.isoformat()},
    )
    return group


@transaction.atomic
def group_update(*, actor, group: ExpertGroup, data: dict) -> ExpertGroup:
    _require(actor, "groups.manage_group", group)
    if group.is_archived:
        raise GroupError(_("An archived group cannot be changed."), code="archived")
    allowed = {"name", "summary", "description", "kind", "standing_membership"}
    changed = []
    for key, value in data.items():
        if key in allowed and getattr(group, key) != value:
            setattr(group, key, value)
            changed.append(key)
    if changed:
        group.save(update_fields=changed)
        activity_record(
            actor=actor,
            verb="group.updated",
            group=group,
            summary=f"Group details changed: {', '.join(changed)}",
            data={"changed": changed},
        )
    return group


@transaction.atomic
def group_close(*, actor, group: ExpertGroup, reason: str) -> ExpertGroup:
    """End the group for good: the group becomes expired (read-only).

    The term in force ends today; a later term that has not started yet (the
    approved extension) is deleted, so the group never comes back to life on
    that term's start date. Both are recorded in the activity.
    """
    _require(actor, "groups.manage_group", group)
    # Read the mandates from the database, locked: a prefetched group may be stale.
    mandates = list(Mandate.objects.select_for_update().filter(group=group).order_by("term"))
    today = timezone.localdate()
    current = next((m for m in mandates if m.start_date <= today < m.end_date), None)
    if current is None:
        raise GroupError(
            _("Only a group with a mandate in force can be closed."), code="not_active"
        )
    if not reason.strip():
        raise GroupError(_("Say why the group closes early."), code="reason_required")
    # A mandate must end after it starts: closing on its first day ends it tomorrow.
    end = max(today, current.start_date + timedelta(days=1))
    cancelled = [m for m in mandates if m.start_date > today]
    # Deleted first: once term 2 is gone, shortening the current term cannot overlap it.
    Mandate.objects.filter(pk__in=[m.pk for m in cancelled]).delete()
    Mandate.objects.filter(pk=current.pk).update(end_date=end)
    ExtensionRequest.objects.filter(group=group, state=ExtensionRequest.State.PENDING).update(
        state=ExtensionRequest.State.REFUSED,
        decided_by=actor,
        decided_at=timezone.now(),
        decision_reason=_("The group was closed early."),
    )
    group.closed_at = timezone.now()
    group.closed_by = actor
    group.close_reason = reason
    group.save(update_fields=["closed_at", "closed_by", "close_reason"])
    summary = f"Group closed early: term {current.term} ends on {end}"
    if cancelled:
        summary += "; " + ", ".join(
            f"term {m.term} ({m.start_date} – {m.end_date}) cancelled" for m in cancelled
        )
    activity_record(
        actor=actor,
        verb="group.closed",
        group=group,
        summary=summary,
        data={
            "reason": reason,
            "term_ended": current.term,
            "end_date": end.isoformat(),
            "terms_cancelled": [
                {
                    "term": m.term,
                    "start_date": m.start_date.isoformat(),
                    "end_date": m.end_date.isoformat(),
                }
                for m in cancelled
            ],
        },
    )
    notify(
        users=_coordinators(group),
        category="mandate",
        title=lambda: _("%(group)s has been closed") % {"group": group.name},
        body=reason,
        url=group.get_absolute_url(),
    )
    return _refresh(group)


@transaction.atomic
def group_archive(*, actor, group: ExpertGroup, include_all_versions: bool = False) -> ExpertGroup:
    """Archive an expired group: read-only for everyone, listed among past groups.

    Queues the group's archive package (``groups.archive``), built by a worker.
    """
    _require(actor, "groups.manage_group", group)
    group = ExpertGroup.objects.select_for_update().get(pk=group.pk)
    if group.archived_at is not None:
        raise GroupError(_("This group is already archived."), code="archived")
    if lifecycle_of(group).state != "expired":
        raise GroupError(
            _("Only an expired or closed group can be archived. Close it early first if needed."),
            code="not_expired",
        )
    group.archived_at = timezone.now()
    group.archived_by = actor
    group.save(update_fields=["archived_at", "archived_by"])
    Membership.objects.filter(group=group, state__in=[State.REQUESTED, State.INVITED]).update(
        state=State.DECLINED, ended_at=timezone.now(), end_reason="group archived"
    )
    activity_record(actor=actor, verb="group.archived", group=group, summary="Group archived")
    transaction.on_commit(lambda: _group_sockets_close(group.pk))
    from .archive import archive_package_request

    archive_package_request(actor=actor, group=group, include_all_versions=include_all_versions)
    return group


def _group_sockets_close(group_id: int) -> None:
    """Tell open chat sockets of the group to close (the chat app listens for this)."""
    try:
        from groups.realtime import group_close_sockets
    except ImportError:
        return
    group_close_sockets(group_id=group_id)


# --- Mandates ------------------------------------------------------------


@transaction.atomic
def extension_request(*, actor, group: ExpertGroup, justification: str) -> ExtensionRequest:
    """A coordinator asks for the one extension of two more years."""
    if not actor.has_perm("groups.request_extension", group):
        raise PermissionDenied
    life = lifecycle_of(group)
    if life.last is not None and life.last.term >= 2:
        raise GroupError(
            _("This group has already been extended once; a mandate can be extended only once."),
            code="already_extended",
        )
    if life.current is None:
        raise GroupError(
            _("The mandate has ended; an extension must be requested before the end of term 1."),
            code="expired",
        )
    if life.pending_extension is not None:
        raise GroupError(
            _("An extension request is already waiting for a decision."), code="pending"
        )
    if len(justification.strip()) < 20:
        raise GroupError(
            _("Explain in a few sentences why the group should continue (at least 20 characters)."),
            code="justification",
        )
    try:
        with transaction.atomic():
            request = ExtensionRequest.objects.create(
                group=group, mandate=life.current, requested_by=actor, justification=justification
            )
    except IntegrityError as exc:
        raise GroupError(
            _("An extension request is already waiting for a decision."), code="pending"
        ) from exc
    activity_record(
        actor=actor,
        verb="mandate.extension_requested",
        group=group,
        summary="Extension of the mandate requested",
    )
    notify(
        users=_secretariat_users(),
        category="mandate",
        title=lambda: _("%(group)s asks for an extension") % {"group": group.name},
        body=justification,
        url=reverse("groups:secretariat_dashboard"),
    )
    return request


@transaction.atomic
def extension_decide(
    *, actor, request: ExtensionRequest, approve: bool, reason: str = ""
) -> ExtensionRequest:
    """The secretariat approves (term 2 of two years follows term 1) or refuses, with a reason."""
    group = request.group
    if not actor.has_perm("groups.decide_extension", group):
        raise PermissionDenied
    request = ExtensionRequest.objects.select_for_update().get(pk=request.pk)
    if request.state != ExtensionRequest.State.PENDING:
        raise GroupError(_("This request has already been decided."), code="decided")
    if request.requested_by_id == actor.pk:
        raise GroupError(_("You cannot decide on a request you made yourself."), code="own_request")
    if not approve and not reason.strip():
        raise GroupError(_("Give a reason when refusing an extension."), code="reason_required")
    term1 = request.mandate
    today = timezone.localdate()
    if approve:
        if today >= term1.end_date:
            raise GroupError(
                _("The mandate has already ended; it can no longer be extended."), code="expired"
            )
        if Mandate.objects.filter(group=group, term__gte=2).exists():
            raise GroupError(
                _("This group has already been extended once."), code="already_extended"
            )
        try:
            with transaction.atomic():
                Mandate.objects.create(
                    group=group,
                    term=2,
                    start_date=term1.end_date,
                    end_date=mandate_end(term1.end_date),
                )
        except IntegrityError as exc:
            raise GroupError(
                _("This group has already been extended once."), code="already_extended"
            ) from exc
    request.state = ExtensionRequest.State.APPROVED if approve else ExtensionRequest.State.REFUSED
    request.decided_by = actor
    request.decided_at = timezone.now()
    request.decision_reason = reason
    request.save()
    activity_record(
        actor=actor,
        verb="mandate.extension_approved" if approve else "mandate.extension_refused",
        group=group,
        summary="Extension approved" if approve else "Extension refused",
        data={"reason": reason},
    )
    coordinators = _coordinators(group)
    if approve:
        Membership.objects.filter(group=group, state=State.ACTIVE, role=Role.COORDINATOR).update(
            confirmed_term=2
        )
        notify(
            users=coordinators,
            category="mandate",
            title=lambda: _("The mandate of %(group)s is extended") % {"group": group.name},
            body=reason,
            url=group.get_absolute_url(),
        )
        if group.standing_membership:
            Membership.objects.filter(group=group, state=State.ACTIVE).update(confirmed_term=2)
        else:
            members = [
                m.user
                for m in Membership.objects.filter(
                    group=group, state=State.ACTIVE, role=Role.MEMBER
                ).select_related("user")
            ]
            notify(
                users=members,
                category="membership",
                title=lambda: (
                    _("Please confirm your membership of %(group)s for the new term")
                    % {"group": group.name}
                ),
                body=_text_confirm_term(term1.end_date),
                url=group.get_absolute_url(),
            )
    else:
        notify(
            users=coordinators,
            category="mandate",
            title=lambda: _("The extension of %(group)s was refused") % {"group": group.name},
            body=reason,
            url=group.get_absolute_url(),
        )
    return request


def _text_confirm_term(end: date):
    return gettext_lazy(
        "The group's mandate has been extended for two more years. Confirm on the group page "
        "that you stay a member; otherwise your membership ends with the current term."
    )


@transaction.atomic
def membership_confirm_term(*, actor, group: ExpertGroup) -> Membership:
    membership = Membership.objects.filter(user=actor, group=group, state=State.ACTIVE).first()
    if membership is None:
        raise PermissionDenied
    life = lifecycle_of(group)
    if life.last is None or life.last.term < 2:
        raise GroupError(_("There is no new term to confirm."), code="no_new_term")
    if membership.confirmed_term >= 2:
        return membership
    membership.confirmed_term = 2
    membership.save(update_fields=["confirmed_term"])
    activity_record(
        actor=actor,
        verb="membership.confirmed",
        group=group,
        summary=f"{actor} confirmed membership for term 2",
        data={"member": actor.pk},
    )
    return membership


def memberships_end_unconfirmed(*, on: date | None = None) -> int:
    """At the start of term 2, members of ordinary groups who did not confirm leave."""
    on = on or timezone.localdate()
    ended = 0
    for mandate in Mandate.objects.filter(
        term=2,
        start_date__lte=on,
        group__standing_membership=False,
        group__archived_at__isnull=True,
    ):
        with transaction.atomic():
            stale = list(
                Membership.objects.select_for_update().filter(
                    group_id=mandate.group_id,
                    state=State.ACTIVE,
                    confirmed_term__lt=2,
                    role=Role.MEMBER,
                )
            )
            for m in stale:
                m.state = State.ENDED
                m.ended_at = timezone.now()
                m.end_reason = "not confirmed for term 2"
                m.save(update_fields=["state", "ended_at", "end_reason"])
                activity_record(
                    actor=None,
                    verb="membership.lapsed",
                    group=mandate.group,
                    summary=f"{m.user} did not confirm for term 2",
                    data={"member": m.user_id},
                )
            ended += len(stale)
    return ended


# --- Memberships ---------------------------------------------------------


def _open_membership_exists(user, group) -> bool:
    return Membership.objects.filter(
        user=user, group=group, state__in=Membership.OPEN_STATES
    ).exists()


@transaction.atomic
def membership_request(*, actor, group: ExpertGroup, motivation: str) -> Membership:
    """An expert asks to join; coordinators decide.

    Raises ``PermissionDenied`` for a group that has not started, to anyone who
    may not see it: it is not public yet, and views answer 404 as its public page
    does. Others are told the group does not take requests yet.
    """
    life = lifecycle_of(group)
    if life.state == "proposed" and not actor.has_perm("groups.view_group", group):
        raise PermissionDenied
    if group.is_archived or not life.writable and life.state != "proposed":
        raise GroupError(_("This group no longer accepts new members."), code="closed")
    existing = Membership.objects.filter(
        user=actor, group=group, state__in=Membership.OPEN_STATES
    ).first()
    if existing is not None:
        if existing.state == State.ACTIVE:
            raise GroupError(_("You are already a member of this group."), code="member")
        if existing.state == State.INVITED:
            raise GroupError(
                _("You have been invited already: accept the invitation instead."), code="invited"
            )
        raise GroupError(
            _("Your request to join is already waiting for the coordinators."), code="duplicate"
        )
    if life.state == "proposed":
        raise GroupError(
            _("This group has not started yet: requests to join open when its mandate starts."),
            code="not_started",
        )
    motivation = motivation.strip()
    if len(motivation) < 10:
        raise GroupError(
            _("Tell the coordinators in a sentence or two why you want to join."), code="motivation"
        )
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=actor, group=group, state=State.REQUESTED, motivation=motivation[:2000]
            )
    except IntegrityError as exc:
        raise GroupError(
            _("Your request to join is already waiting for the coordinators."), code="duplicate"
        ) from exc
    activity_record(
        actor=actor,
        verb="membership.requested",
        group=group,
        summary=f"{actor} asked to join",
        data={"member": actor.pk},
    )
    notify(
        users=_coordinators(group),
        category="membership",
        title=lambda: _("%(user)s asks to join %(group)s") % {"user": actor, "group": group.name},
        body=motivation,
        url=reverse("groups:members", kwargs={"slug": group.slug}),
    )
    return membership


def _decidable(actor, membership: Membership, state: str) -> Membership:
    _require(actor, "groups.manage_members", membership.group)
    membership = (
        Membership.objects.select_for_update().select_related("user", "group").get(pk=membership.pk)
    )
    if membership.state != state:
        raise GroupError(_("This request has already been handled."), code="handled")
    return membership


@transaction.atomic
def membership_approve(*, actor, membership: Membership) -> Membership:
    membership = _decidable(actor, membership, State.REQUESTED)
    if membership.user_id == actor.pk:
        raise GroupError(_("You cannot approve your own request."), code="own_request")
    group = membership.group
    membership.state = State.ACTIVE
    membership.decided_by = actor
    membership.started_at = timezone.now()
    last = lifecycle_of(group).last
    membership.confirmed_term = last.term if last else 1
    membership.save()
    from meetings.services import meeting_invitations_for_new_member

    meeting_invitations_for_new_member(user=membership.user, group=group)
    forget_memberships(membership.user)
    activity_record(
        actor=actor,
        verb="membership.joined",
        group=group,
        summary=f"{membership.user} joined",
        data={"member": membership.user_id, "by_invitation": False},
    )
    notify(
        users=[membership.user],
        category="membership",
        title=lambda: _("Welcome to %(group)s") % {"group": group.name},
        body=gettext_lazy("Your request to join has been approved."),
        url=group.get_absolute_url(),
    )
    return membership


@transaction.atomic
def membership_decline(*, actor, membership: Membership, reason: str = "") -> Membership:
    membership = _decidable(actor, membership, State.REQUESTED)
    group = membership.group
    membership.state = State.DECLINED
    membership.decided_by = actor
    membership.ended_at = timezone.now()
    membership.end_reason = reason[:200]
    membership.save()
    activity_record(
        actor=actor,
        verb="membership.declined",
        group=group,
        summary=f"Request of {membership.user} declined",
        data={"member": membership.user_id},
    )
    notify(
        users=[membership.user],
        category="membership",
        title=lambda: _("Your request to join %(group)s was declined") % {"group": group.name},
        body=reason,
        url=group.get_public_url(),
    )
    return membership


def _active_coordinator_count(group) -> int:
    return Membership.objects.filter(group=group, state=State.ACTIVE, role=Role.COORDINATOR).count()


def _end(membership: Membership, state: str, reason: str) -> None:
    membership.state = state
    membership.ended_at = timezone.now()
    membership.end_reason = reason[:200]
    membership.save(update_fields=["state", "ended_at", "end_reason"])
    forget_memberships(membership.user)


def _ensure_not_last_coordinator(membership: Membership) -> None:
    if (
        membership.role == Role.COORDINATOR
        and not membership.group.is_archived
        and _active_coordinator_count(membership.group) <= 1
    ):
        raise GroupError(
            _("A group always keeps at least one coordinator. Appoint another coordinator first."),
            code="last_coordinator",
        )


@transaction.atomic
def membership_leave(*, actor, group: ExpertGroup) -> Membership:
    membership = (
        Membership.objects.select_for_update()
        .filter(user=actor, group=group, state=State.ACTIVE)
        .first()
    )
    if membership is None:
        raise GroupError(_("You are not a member of this group."), code="not_member")
    membership.group = group
    _ensure_not_last_coordinator(membership)
    _end(membership, State.LEFT, "left")
    activity_record(
        actor=actor,
        verb="membership.left",
        group=group,
        summary=f"{actor} left the group",
        data={"member": actor.pk},
    )
    transaction.on_commit(lambda: _member_sockets_close(group.pk, actor.pk))
    return membership


@transaction.atomic
def membership_remove(*, actor, membership: Membership, reason: str = "") -> Membership:
    group = membership.group
    _require(actor, "groups.manage_members", group)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.state != State.ACTIVE:
        raise GroupError(_("This person is not an active member."), code="not_member")
    membership.group = group
    _ensure_not_last_coordinator(membership)
    _end(membership, State.REMOVED, reason or "removed")
    activity_record(
        actor=actor,
        verb="membership.removed",
        group=group,
        summary=f"{membership.user} removed",
        data={"member": membership.user_id, "reason": reason},
    )
    notify(
        users=[membership.user],
        category="membership",
        title=lambda: _("You are no longer a member of %(group)s") % {"group": group.name},
        body=reason,
        url="",
    )
    user_id = membership.user_id
    transaction.on_commit(lambda: _member_sockets_close(group.pk, user_id))
    return membership


def _member_sockets_close(group_id: int, user_id: int) -> None:
    try:
        from groups.realtime import member_close_sockets
    except ImportError:
        return
    member_close_sockets(group_id=group_id, user_id=user_id)


@transaction.atomic
def membership_set_role(*, actor, membership: Membership, role: str) -> Membership:
    """Promote to coordinator or step down: the old row ends, a new one starts (history kept)."""
    group = membership.group
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    membership.group = group
    stepping_down_self = membership.user_id == actor.pk and role == Role.MEMBER
    if not stepping_down_self:
        _require(actor, "groups.manage_members", group)
    elif not group.lifecycle.writable:
        raise GroupError(_("This group is read-only."), code="read_only")
    if role not in Role.values:
        raise GroupError(_("Unknown role."), code="role")
    if membership.state != State.ACTIVE:
        raise GroupError(_("This person is not an active member."), code="not_member")
    if membership.role == role:
        return membership
    if role == Role.MEMBER:
        _ensure_not_last_coordinator(membership)
    _end(membership, State.ENDED, f"role changed to {role}")
    new = Membership.objects.create(
        user=membership.user,
        group=group,
        role=role,
        state=State.ACTIVE,
        decided_by=actor,
        started_at=timezone.now(),
        confirmed_term=membership.confirmed_term,
    )
    from meetings.services import meeting_invitations_for_new_member

    meeting_invitations_for_new_member(user=membership.user, group=group)
    activity_record(
        actor=actor,
        verb="membership.role_changed",
        group=group,
        summary=f"{membership.user} is now {role}",
        data={"member": membership.user_id, "role": role},
    )
    notify(
        users=[membership.user],
        category="membership",
        title=lambda: _("Your role in %(group)s changed") % {"group": group.name},
        body=str(Role(role).label),
        url=group.get_absolute_url(),
    )
    return new


@transaction.atomic
def coordinator_appoint(*, actor, group: ExpertGroup, user) -> Membership:
    """The secretariat names a coordinator, member or not."""
    _require(actor, "groups.manage_group", group)
    if group.is_archived:
        raise GroupError(_("An archived group cannot be changed."), code="archived")
    current = Membership.objects.filter(
        user=user, group=group, state__in=Membership.OPEN_STATES
    ).first()
    if current is not None and current.state == State.ACTIVE:
        current.group = group
        return membership_set_role(actor=actor, membership=current, role=Role.COORDINATOR)
    if current is not None:
        _end(current, State.ENDED, "appointed coordinator")
    membership = Membership.objects.create(
        user=user,
        group=group,
        role=Role.COORDINATOR,
        state=State.ACTIVE,
        decided_by=actor,
        started_at=timezone.now(),
        confirmed_term=(lifecycle_of(group).last.term if lifecycle_of(group).last else 1),
    )
    from meetings.services import meeting_invitations_for_new_member

    meeting_invitations_for_new_member(user=user, group=group)
    activity_record(
        actor=actor,
        verb="membership.coordinator_appointed",
        group=group,
        summary=f"{user} appointed coordinator",
        data={"member": user.pk},
    )
    notify(
        users=[user],
        category="membership",
        title=lambda: _("You are now a coordinator of %(group)s") % {"group": group.name},
        url=group.get_absolute_url(),
    )
    return membership


# --- Invitations ---------------------------------------------------------


@transaction.atomic
def invitation_create(*, actor, group: ExpertGroup, email: str, message: str = "") -> Invitation:
    """Invite someone by e-mail, with or without an account; the link lands them in the group."""
    _require(actor, "groups.manage_members", group)
    from accounts.models import User

    email = email.strip().lower()
    existing_user = User.objects.filter(email__iexact=email).first()
    if (
        existing_user
        and Membership.objects.filter(user=existing_user, group=group, state=State.ACTIVE).exists()
    ):
        raise GroupError(_("This person is already a member."), code="member")
    if Invitation.objects.filter(
        group=group, email__iexact=email, accepted_at__isnull=True, declined_at__isnull=True
    ).exists():
        raise GroupError(_("This address has already been invited."), code="duplicate")
    invitation = Invitation.objects.create(
        group=group, email=email, invited_by=actor, message=message[:2000]
    )
    activity_record(
        actor=actor,
        verb="membership.invited",
        group=group,
        summary=f"{email} invited",
        # Someone with an account is named by id (and shows as "Former member" once
        # deleted); the address is kept only for invitees without one.
        data={
            "invitation": invitation.pk,
            "member": existing_user.pk if existing_user else None,
            "email": None if existing_user else email,
        },
    )
    transaction.on_commit(lambda: _send_invitation(invitation.pk))
    return invitation


def _send_invitation(invitation_id: int) -> None:
    from .tasks import send_invitation_email

    send_invitation_email.delay(invitation_id)


def invitation_for(token: str) -> Invitation | None:
    return Invitation.objects.select_related("group").filter(token=token).first()


@transaction.atomic
def invitation_accept(*, actor, invitation: Invitation) -> Membership:
    invitation = (
        Invitation.objects.select_for_update().select_related("group").get(pk=invitation.pk)
    )
    group = invitation.group
    if not invitation.is_open:
        raise GroupError(_("This invitation has already been used."), code="used")
    if group.is_archived or lifecycle_of(group).state == "expired":
        raise GroupError(_("This group no longer accepts new members."), code="closed")
    from allauth.account.models import EmailAddress

    if not EmailAddress.objects.filter(
        user=actor, email__iexact=invitation.email, verified=True
    ).exists():
        raise GroupError(
            _("This invitation was sent to %(email)s. Sign in with that address to accept it.")
            % {"email": invitation.email},
            code="wrong_user",
        )
    open_row = Membership.objects.filter(
        user=actor, group=group, state__in=Membership.OPEN_STATES
    ).first()
    if open_row is not None and open_row.state == State.ACTIVE:
        membership = open_row
    else:
        if open_row is not None:
            _end(open_row, State.ENDED, "joined by invitation")
        last = lifecycle_of(group).last
        membership = Membership.objects.create(
            user=actor,
            group=group,
            role=Role.MEMBER,
            state=State.ACTIVE,
            decided_by=invitation.invited_by,
            started_at=timezone.now(),
            confirmed_term=last.term if last else 1,
        )
        from meetings.services import meeting_invitations_for_new_member

        meeting_invitations_for_new_member(user=actor, group=group)
        activity_record(
            actor=actor,
            verb="membership.joined",
            group=group,
            summary=f"{actor} joined by invitation",
            data={"member": actor.pk, "by_invitation": True},
        )
    invitation.accepted_at = timezone.now()
    invitation.membership = membership
    invitation.save(update_fields=["accepted_at", "membership"])
    forget_memberships(actor)
    return membership


@transaction.atomic
def invitation_decline(*, actor, invitation: Invitation) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_open:
        raise GroupError(_("This invitation has already been used."), code="used")
    invitation.declined_at = timezone.now()
    invitation.save(update_fields=["declined_at"])
    activity_record(
        actor=actor,
        verb="membership.invitation_declined",
        group=invitation.group,
        summary=f"{invitation.email} declined the invitation",
        data={"member": actor.pk},
    )
    return invitation
