"""Who may do what in a group: the one place that decides.

Predicates take ``(user, group)``. Views, consumers, tasks and other apps
(documents, meetings, chat) ask these permissions instead of re-deriving them.
A non-member asking for a private page of a group gets 404, not 403, so the
existence of private content is not revealed.
"""

import rules

from accounts.rules import has_mfa, is_secretariat

from .models import Membership


def _membership_cache(user) -> dict:
    """The user's active memberships read so far in this request, by group pk.

    Attribute access, not ``__dict__``: it reaches the user behind ``request.user``'s
    lazy wrapper, so views and permission checks share one cache.
    """
    cache = getattr(user, "_active_memberships", None)
    if cache is None:
        cache = user._active_memberships = {}
    return cache


def membership_of(user, group) -> Membership | None:
    """The user's active membership in the group, cached on the user for the request."""
    if not getattr(user, "is_authenticated", False) or group is None:
        return None
    cache = _membership_cache(user)
    if group.pk not in cache:
        # At most one active membership per user and group (a unique constraint),
        # so no ordering: sorting costs more to compile than the query to run.
        rows = Membership.objects.filter(
            user=user, group=group, state=Membership.State.ACTIVE
        ).order_by()[:1]
        cache[group.pk] = next(iter(rows), None)
    return cache[group.pk]


def forget_memberships(user) -> None:
    if getattr(user, "_active_memberships", None) is not None:
        user._active_memberships = None


def group_pks_viewable(user, groups) -> set[int]:
    """The pks of ``groups`` whose private pages ``user`` may open (``groups.view_group``).

    For lists: at most three queries whatever the number of groups (the
    secretariat check, then the user's memberships of all of them at once, which
    also fill ``membership_of``'s cache).
    """
    groups = [group for group in groups if group is not None]
    if not getattr(user, "is_authenticated", False) or not groups:
        return set()
    if secretariat.test(user):
        return {group.pk for group in groups}
    cache = _membership_cache(user)
    missing = [group.pk for group in groups if group.pk not in cache]
    if missing:
        for pk in missing:
            cache[pk] = None
        for membership in Membership.objects.filter(
            user=user, group_id__in=missing, state=Membership.State.ACTIVE
        ).order_by("created_at"):
            cache[membership.group_id] = membership  # the latest wins, as in membership_of
    return {group.pk for group in groups if is_member(user, group)}


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
def group_has_started(user, group) -> bool:
    return group is not None and group.lifecycle.state != "proposed"


@rules.predicate
def group_is_open_for_joining(user, group) -> bool:
    # Not "proposed": a group that has not started is not public yet (its public page
    # answers 404 to non-members), so nobody can ask to join it.
    return group is not None and group.lifecycle.state in (
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
# Who may ask for the extension: a coordinator of a group that has started and is not
# archived. Whether it can still be asked (term 1 in force, none pending, not extended
# yet) is the service's to say, with a message: an expired group's coordinator is told why.
rules.add_perm("groups.request_extension", is_coordinator & group_has_started & ~group_is_archived)
rules.add_perm("groups.decide_extension", secretariat)
rules.add_perm("groups.manage_group", secretariat)
rules.add_perm("groups.view_activity", is_member | secretariat)
