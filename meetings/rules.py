"""Who may do what with meetings and date polls: built on the group permissions.

Membership is never re-derived here: each rule asks ``groups/rules.py``. The
object of every permission is the group the meeting or poll belongs to.
"""

import rules

from groups.rules import group_is_writable, is_coordinator, secretariat


@rules.predicate
def may_view_group(user, group) -> bool:
    return user.has_perm("groups.view_group", group)


@rules.predicate
def may_contribute(user, group) -> bool:
    return user.has_perm("groups.contribute", group)


@rules.predicate
def may_manage_members(user, group) -> bool:
    return user.has_perm("groups.manage_members", group)


# Meetings, answers, polls and minutes are readable as long as the group is (also archived).
rules.add_perm("meetings.view", may_view_group)
# Scheduling, editing, cancelling, polls, attendance and minutes: coordinators (and the
# secretariat) while the group is writable; an expired or archived group takes nothing new.
rules.add_perm("meetings.schedule", may_manage_members & group_is_writable)
# Answering an invitation and voting in a poll: members while the group is writable.
rules.add_perm("meetings.answer", may_contribute)
# Who answered what (and who did not): the group's coordinators and the secretariat,
# also once the group is read-only.
rules.add_perm("meetings.view_answers", may_view_group & (is_coordinator | secretariat))
