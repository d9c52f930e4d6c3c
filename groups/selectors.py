"""Reads about groups, filtered to what the viewer may see and prefetched."""

from django.db.models import Count, Prefetch, Q, QuerySet

from .models import ExpertGroup, ExtensionRequest, Membership

PENDING = Prefetch(
    "extension_requests",
    queryset=ExtensionRequest.objects.filter(state=ExtensionRequest.State.PENDING),
    to_attr="pending_extensions",
)


def groups_with_lifecycle() -> QuerySet[ExpertGroup]:
    """Groups with what their lifecycle needs, in a fixed number of queries."""
    return ExpertGroup.objects.prefetch_related("mandates", PENDING)


def groups_public() -> tuple[list[ExpertGroup], list[ExpertGroup]]:
    """(current, past) groups for the public list; proposed groups are not shown."""
    current, past = [], []
    for group in groups_with_lifecycle().order_by("name"):
        if group.lifecycle.state == "archived":
            past.append(group)
        elif group.lifecycle.state != "proposed":
            current.append(group)
    return current, past


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
    return (
        Membership.objects.filter(user=user, group=group, state__in=Membership.OPEN_STATES)
        .order_by("-created_at")
        .first()
    )


def secretariat_overview() -> list[ExpertGroup]:
    """All groups; those whose mandate ends in the next 90 days first, soonest first."""
    groups = list(
        groups_with_lifecycle().annotate(
            member_count=Count("memberships", filter=Q(memberships__state=Membership.State.ACTIVE))
        )
    )

    def key(group):
        life = group.lifecycle
        soon = life.days_left is not None and life.days_left <= 90 and life.current is life.last
        return (0 if soon else 1, life.days_left if soon else 0, group.name)

    return sorted(groups, key=key)


def invitations_for(user):
    """Open invitations sent to one of the user's verified addresses."""
    from allauth.account.models import EmailAddress

    from .models import Invitation

    emails = EmailAddress.objects.filter(user=user, verified=True).values_list("email", flat=True)
    return Invitation.objects.filter(
        email__in=[e.lower() for e in emails], accepted_at=None, declined_at=None
    ).select_related("group", "invited_by")
