from datetime import timedelta

from django.utils import timezone

from groups import services
from groups.models import Membership
from tests.conftest import make_secretariat
from tests.factories import UserFactory


def make_group(*, start=None, coordinators=None, slug=None, standing=False, actor=None, **kwargs):
    """A group built through the real service, with one coordinator by default."""
    actor = actor or make_secretariat(UserFactory())
    coordinators = coordinators if coordinators is not None else [UserFactory()]
    start = start or timezone.localdate() - timedelta(days=10)
    n = make_group.counter = getattr(make_group, "counter", 0) + 1
    return services.group_create(
        actor=actor,
        name=kwargs.pop("name", f"Group {n}"),
        slug=slug or f"group-{n}",
        kind=kwargs.pop("kind", "expert_group"),
        summary=kwargs.pop("summary", "A public summary."),
        description=kwargs.pop("description", "Private description for members."),
        standing_membership=standing,
        start_date=start,
        coordinators=coordinators,
    )


def add_member(group, user=None, role=Membership.Role.MEMBER):
    user = user or UserFactory()
    Membership.objects.create(
        user=user, group=group, role=role, state=Membership.State.ACTIVE, started_at=timezone.now()
    )
    return user


def coordinator_of(group):
    return (
        Membership.objects.filter(group=group, role="coordinator", state="active")
        .select_related("user")
        .first()
        .user
    )
