"""Reads about groups, filtered to what the viewer may see and prefetched."""

from collections import Counter
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from . import lifecycle
from .models import ExpertGroup, ExtensionRequest, Mandate, Membership
from .rules import membership_of


def groups_with_lifecycle() -> QuerySet[ExpertGroup]:
    """Groups with what their lifecycle needs, in two queries whatever their number.

    The pending extension request (at most one per group) is only ever asked
    whether it exists, so its key comes with the group (``pending_extension_pk``)
    instead of a prefetch query of its own: one query less on every group page.
    """
    pending = (
        ExtensionRequest.objects.filter(group=OuterRef("pk"), state=ExtensionRequest.State.PENDING)
        .order_by()
        .values("pk")[:1]
    )
    # Ordered by term alone: the model's default order (group, term) joins the
    # group table again to sort by its name, for rows that share one group.
    mandates = Prefetch("mandates", queryset=Mandate.objects.order_by("term"))
    return ExpertGroup.objects.prefetch_related(mandates).annotate(
        pending_extension_pk=Subquery(pending)
    )


def groups_public_current() -> QuerySet[ExpertGroup]:
    """Current groups for the public list: started (not proposed) and not archived.

    Expired groups that are not archived yet stay listed. A queryset, so that the
    list is paginated in the database with a fixed number of queries.
    """
    started = Mandate.objects.filter(group=OuterRef("pk"), start_date__lte=timezone.localdate())
    return (
        groups_with_lifecycle()
        .filter(archived_at__isnull=True)
        .filter(Exists(started))
        .order_by("name", "pk")
    )


def groups_public_past() -> QuerySet[ExpertGroup]:
    """Past (archived) groups for the public list."""
    return groups_with_lifecycle().filter(archived_at__isnull=False).order_by("name", "pk")


def group_for_viewer(*, slug: str) -> ExpertGroup:
    return groups_with_lifecycle().get(slug=slug)


def groups_of_user(user) -> list[ExpertGroup]:
    memberships = Membership.objects.filter(user=user, state=Membership.State.ACTIVE)
    return list(
        groups_with_lifecycle()
        .filter(pk__in=memberships.values("group_id"))
        .annotate(
            member_count=Count("memberships", filter=Q(memberships__state=Membership.State.ACTIVE))
        )
        .order_by("name")
    )


def members_of(group) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(group=group, state=Membership.State.ACTIVE)
        .select_related("user")
        .order_by("-role", "user__full_name")
    )


def coordinators_of(group) -> QuerySet[Membership]:
    """The group's active coordinators, as ``members_of`` orders them (filtered in SQL:
    the group page showed them by reading every member's row)."""
    return members_of(group).filter(role=Membership.Role.COORDINATOR)


def pending_requests_of(group) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(group=group, state=Membership.State.REQUESTED)
        .select_related("user")
        .order_by("created_at")
    )


def membership_history_of(group) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(group=group)
        .exclude(state__in=[Membership.State.REQUESTED, Membership.State.INVITED])
        .select_related("user", "decided_by")
        .order_by("-created_at")
    )


def open_membership(user, group) -> Membership | None:
    """The user's requested, invited or active membership of the group, if any.

    An active one is the open one (at most one is open): the permission checks of
    the same request have usually read it already (``membership_of``'s cache).
    """
    active = membership_of(user, group)
    if active is not None:
        return active
    return (
        Membership.objects.filter(user=user, group=group, state__in=Membership.OPEN_STATES)
        .order_by("-created_at")
        .first()
    )


@dataclass(frozen=True)
class SecretariatOverview:
    """The secretariat's dashboard of groups by state."""

    groups: list[ExpertGroup]  # of the chosen state (all without one), ending soonest first
    counts: list[tuple[str, str, int]]  # (state, label, number of groups), every state
    total: int
    state: str  # the chosen state, "" for all
    soon_days: int  # "ending soon" means within this many days


def secretariat_overview(*, state: str = "") -> SecretariatOverview:
    """All groups with their states, counted per state and optionally filtered by one.

    Groups whose last term ends within ``settings.MANDATE_EXPIRING_SOON_DAYS`` come
    first, soonest first (each has ``ending_soon``); then the others by name. Two
    queries whatever the number of groups: the lifecycle is computed in Python from
    the prefetched mandates and pending requests.
    """
    soon_days = settings.MANDATE_EXPIRING_SOON_DAYS
    groups = list(
        groups_with_lifecycle().annotate(
            member_count=Count("memberships", filter=Q(memberships__state=Membership.State.ACTIVE))
        )
    )
    for group in groups:
        life = group.lifecycle
        # days_left counts to the end of the latest approved term, as the "Ends" column.
        group.ending_soon = (
            life.days_left is not None and life.days_left <= soon_days and group.archived_at is None
        )

    def key(group):
        if group.ending_soon:
            return (0, group.lifecycle.days_left, group.name)
        return (1, 0, group.name)

    groups.sort(key=key)
    per_state = Counter(group.state for group in groups)
    counts = [(name, label, per_state.get(name, 0)) for name, label in lifecycle.LABELS.items()]
    if state not in lifecycle.LABELS:
        state = ""
    return SecretariatOverview(
        groups=[group for group in groups if not state or group.state == state],
        counts=counts,
        total=len(groups),
        state=state,
        soon_days=soon_days,
    )


def extension_unavailable_reason(group) -> str | None:
    """Why the group cannot ask for its extension now, or None when it can.

    The same reasons, in the same order and words, as ``services.extension_request``
    gives when it refuses; the extension page shows them instead of a form.
    """
    life = group.lifecycle
    if life.state == "proposed":
        return _("The mandate has not started yet; the extension is requested during term 1.")
    if life.last is not None and life.last.term >= 2:
        return _("This group has already been extended once; a mandate can be extended only once.")
    if life.current is None:
        return _("The mandate has ended; an extension must be requested before the end of term 1.")
    if life.pending_extension is not None:
        return _("An extension request is already waiting for a decision.")
    return None


def invitations_for(user):
    """Open invitations sent to one of the user's verified addresses."""
    from allauth.account.models import EmailAddress

    from .models import Invitation

    emails = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    return Invitation.objects.filter(
        email__in=[e.lower() for e in emails], accepted_at=None, declined_at=None
    ).select_related("group", "invited_by")
