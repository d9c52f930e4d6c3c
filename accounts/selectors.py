"""Reads about users, already filtered to what the viewer may see."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import User
from .rules import secretariat_remember


def directory_search(*, q: str = "", country: str = "", expertise=None) -> QuerySet[User]:
    """Active experts who chose to be listed, matching the search, with expertise prefetched."""
    users = User.objects.filter(is_active=True, directory_visible=True)
    if q:
        users = users.filter(
            Q(full_name__icontains=q)
            | Q(organisation__icontains=q)
            | Q(bio__icontains=q)
            | Q(expertise__name__icontains=q)
        ).distinct()
    if country:
        users = users.filter(country=country)
    if expertise is not None:
        users = users.filter(expertise=expertise)
    return users.prefetch_related("expertise").order_by("full_name", "pk")


def personal_exports_of(user) -> list:
    """The person's recent data exports, newest first."""
    from .models import PersonalExport

    return list(PersonalExport.objects.filter(user=user).order_by("-created_at", "-pk")[:10])


def active_user_with_role(pk: int) -> User | None:
    """The active user ``pk``, with whether they are in the secretariat, in one query.

    ``accounts.rules.is_secretariat`` then asks no query of its own for this object
    (it would otherwise read the flag together with the navigation's count, which a
    chat socket does not show).
    """
    in_secretariat = Group.objects.filter(
        name=settings.SECRETARIAT_GROUP, user=OuterRef("pk")
    ).order_by()
    user = (
        User.objects.filter(pk=pk, is_active=True)
        .annotate(in_secretariat=Exists(in_secretariat))
        .first()
    )
    if user is not None:
        secretariat_remember(user, in_group=user.in_secretariat)
    return user
