"""Who may do what in a group: the one place that decides.

Predicates take ``(user, group)``. Views, consumers, tasks and other apps
(documents, meetings, chat) ask these permissions instead of re-deriving them.
A non-member asking for a private page of a group gets 404, not 403, so the
existence of private content is not revealed.
"""

import rules

from accounts.rules import has_mfa, is_secretariat

from .models import Membership


def membership_of(user, group) -> Membership | None:
    """The user's active membership in the group, cached on the user for the request."""
    if not getattr(user, "is_authenticated", False) or group is None:
        return None
    cache = user.__dict__.setdefault("_active_memberships", {})
    if group.pk not in cache:
        cache[group.pk] = (
            Membership.objects.filter(user=user, group=group, state=Membership.State.ACTIVE)
            .order_by("-created_at")
            .first()
        )
    return cache[group.pk]


def forget_memberships(user) -> None:
    user.__dict__.pop("_active_memberships", None)


@rules.predicate
def is_member(user, group) -> bool:
    return membership_of(user, group) is not None


@rules.predicate
def is_coordinator(user, group) -> bool:
    membership = membership_of(user, group)
    return membership is not None and membership.role == Membership.Role.COORDINATOR


@rules.predicate
def group_is_writable(user, group) -> bool:
    return group is not None and group.lifecycle.writable


@rules.predicate
def group_is_archived(user, group) -> bool:
    return group is not None and group.is_archived


@rules.predicate
def group_is_open_for_joining(user, group) -> bool:
    return group is not None and group.lifecycle.state in (
        "proposed",
        "active",
        "expiring_soon",
        "extension_requested",
        "extended",
    )


secretariat = is_secretariat & has_mfa

# Reading the group's private pages: members (also of expired/archived groups) and staff.
rules.add_perm("groups.view_group", is_member | secretariat)
# Adding content (documents, meetings, chat): members while the group is not expired/archived.
rules.add_perm("groups.contribute", is_member & group_is_writable)
rules.add_perm(
    "groups.request_join", rules.is_authenticated & ~is_member & group_is_open_for_joining
)
rules.add_perm(
    "groups.manage_members",
    (is_coordinator & group_is_writable) | (secretariat & ~group_is_archived),
)
rules.add_perm("groups.request_extension", is_coordinator & group_is_writable)
rules.add_perm("groups.decide_extension", secretariat)
rules.add_perm("groups.manage_group", secretariat)
rules.add_perm("groups.view_activity", is_member | secretariat)
