"""Reads about users, already filtered to what the viewer may see."""

from django.db.models import Q, QuerySet

from .models import User


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
