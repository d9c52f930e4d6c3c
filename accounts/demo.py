"""Demo people for `make run`: idempotent, with known passwords printed at the end."""

import os

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.db import transaction
from django.utils.text import slugify

from .models import ExpertiseArea, User
from .services import secretariat_grant

DEMO_PASSWORD = os.environ.get("PORTAL_DEMO_PASSWORD", "portal-demo-2026")
# Base32 secret printed for the demo secretariat account so a phone app can be set up.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

EXPERTISE = [
    "Electronic monitoring",
    "Mental health",
    "Violent extremism",
    "Foreign nationals",
    "Training and education",
    "Research and evaluation",
    "Communication",
    "Gender-based violence",
    "Caseload and workload",
    "Technology",
]

DEMO_PEOPLE = [
    {
        "email": "secretariat@example.org",
        "full_name": "Sofia Secretariat",
        "organisation": "Confederation secretariat",
        "country": "NL",
        "timezone": "Europe/Amsterdam",
        "role": "secretariat",
        "expertise": ["Communication"],
    },
    {
        "email": "coordinator@example.org",
        "full_name": "Carla Coordinator",
        "organisation": "Direção-Geral de Reinserção",
        "country": "PT",
        "timezone": "Europe/Lisbon",
        "role": "coordinator",
        "expertise": ["Electronic monitoring", "Technology"],
    },
    {
        "email": "expert1@example.org",
        "full_name": "Erik Expert",
        "organisation": "Rikosseuraamuslaitos",
        "country": "FI",
        "timezone": "Europe/Helsinki",
        "role": "expert",
        "expertise": ["Mental health", "Research and evaluation"],
    },
    {
        "email": "expert2@example.org",
        "full_name": "Elena Expert",
        "organisation": "Probation service",
        "country": "RO",
        "timezone": "Europe/Bucharest",
        "role": "expert",
        "expertise": ["Foreign nationals", "Violent extremism"],
    },
]


@transaction.atomic
def demo_people() -> list[tuple[str, str]]:
    """Create (or refresh) the demo accounts; return (e-mail, role) pairs."""
    areas = {}
    for name in EXPERTISE:
        areas[name], _ = ExpertiseArea.objects.get_or_create(
            slug=slugify(name), defaults={"name": name}
        )
    created = []
    for person in DEMO_PEOPLE:
        user, _ = User.objects.get_or_create(
            email=person["email"],
            defaults={
                "full_name": person["full_name"],
                "organisation": person["organisation"],
                "country": person["country"],
                "timezone": person["timezone"],
                "bio": "Demo account.",
            },
        )
        user.set_password(DEMO_PASSWORD)
        user.save()
        if person["role"] == "secretariat":
            # The Secretariat group and its permissions come from accounts' migration 0003.
            secretariat_grant(user=user)
            if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                TOTP.activate(user, DEMO_TOTP_SECRET)
        user.expertise.add(*(areas[name] for name in person["expertise"]))
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )
        created.append((user.email, person["role"]))
    return created
