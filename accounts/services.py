"""Every write to accounts goes through here."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from portal.services import activity_record

from .models import User


@transaction.atomic
def profile_update(*, actor: User, user: User, data: dict) -> User:
    """Save validated profile fields of ``user``. Only the user edits their own profile."""
    if not actor.has_perm("accounts.change_profile", user):
        raise PermissionDenied
    expertise = data.pop("expertise", None)
    for name, value in data.items():
        setattr(user, name, value)
    user.full_clean(exclude=["password"])
    user.save()
    if expertise is not None:
        user.expertise.set(expertise)
    return user


def user_language_set(*, user: User, language: str) -> None:
    """Remember the language a signed-in user chose in the switcher."""
    if user.is_authenticated and user.language != language:
        user.language = language
        user.save(update_fields=["language"])


def _secretariat_change_allowed(actor: User | None) -> None:
    """Only a superuser, or an operator at the server (``actor`` None), names the secretariat."""
    if actor is not None and not (actor.is_active and actor.is_superuser):
        raise PermissionDenied


@transaction.atomic
def secretariat_grant(*, user: User, actor: User | None = None) -> bool:
    """Make ``user`` secretariat staff: a member of the Secretariat group, with ``is_staff``.

    Secretariat functions stay closed until the person has enrolled a TOTP
    authenticator (``accounts.rules``). Returns False when ``user`` already was.
    """
    _secretariat_change_allowed(actor)
    if not user.is_active or user.is_former_member:
        raise ValidationError(_("Only an active account can join the secretariat."))
    group = Group.objects.get(name=settings.SECRETARIAT_GROUP)  # created by a migration
    if user.is_staff and user.groups.filter(pk=group.pk).exists():
        return False
    user.groups.add(group)
    if not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    user._is_secretariat = None
    activity_record(
        actor=actor,
        verb="secretariat.granted",
        summary=f"{user.email} joined the secretariat",
        data={"user": user.pk},
    )
    return True


@transaction.atomic
def secretariat_revoke(*, user: User, actor: User | None = None) -> bool:
    """Take ``user`` out of the secretariat (a superuser stays staff).

    Returns False when ``user`` was not in it.
    """
    _secretariat_change_allowed(actor)
    group = Group.objects.get(name=settings.SECRETARIAT_GROUP)
    was_member = user.groups.filter(pk=group.pk).exists()
    if not was_member and (user.is_superuser or not user.is_staff):
        return False
    user.groups.remove(group)
    if user.is_staff and not user.is_superuser:
        user.is_staff = False
        user.save(update_fields=["is_staff"])
    user._is_secretariat = None
    activity_record(
        actor=actor,
        verb="secretariat.revoked",
        summary=f"{user.email} left the secretariat",
        data={"user": user.pk},
    )
    return True
