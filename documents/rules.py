"""Who may do what with a document: built on the group permissions, never re-derived.

Predicates take ``(user, document)`` and ask ``groups/rules.py`` about the
document's group. Uploading a new document is ``groups.contribute`` on the
group itself; reading is ``groups.view_group`` (members of expired and archived
groups keep reading and downloading).
"""

import rules

from accounts.rules import has_mfa, is_secretariat
from groups.rules import is_coordinator


@rules.predicate
def can_view_group(user, document) -> bool:
    return document is not None and user.has_perm("groups.view_group", document.group)


@rules.predicate
def can_contribute(user, document) -> bool:
    return document is not None and user.has_perm("groups.contribute", document.group)


@rules.predicate
def is_group_coordinator(user, document) -> bool:
    return document is not None and is_coordinator(user, document.group)


@rules.predicate
def is_uploader(user, document) -> bool:
    return (
        document is not None
        and getattr(user, "is_authenticated", False)
        and document.created_by_id == user.pk
    )


@rules.predicate
def is_binned(user, document) -> bool:
    return document is not None and document.binned_at is not None


secretariat = is_secretariat & has_mfa

# Moving to the bin and back: the uploader or a coordinator, while the group may change.
may_manage = can_contribute & (is_uploader | is_group_coordinator)

# Documents in the bin are seen (and downloaded) only by those who decide about them.
rules.add_perm(
    "documents.view_document",
    can_view_group & (~is_binned | is_uploader | is_group_coordinator | secretariat),
)
rules.add_perm("documents.add_version", can_contribute & ~is_binned)
rules.add_perm("documents.bin_document", may_manage & ~is_binned)
rules.add_perm("documents.restore_document", may_manage & is_binned)
rules.add_perm("documents.purge_document", secretariat & is_binned)
# Who sees the list of confirmed downloads of a restricted document.
rules.add_perm(
    "documents.view_confirmations", can_view_group & (is_group_coordinator | secretariat)
)
