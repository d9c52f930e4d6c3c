"""Every write to accounts goes through here."""

from django.core.exceptions import PermissionDenied
from django.db import transaction

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
