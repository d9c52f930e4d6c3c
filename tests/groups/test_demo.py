"""`manage.py demo_data`: groups built through the services, at the right stages, idempotent."""

import re
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from groups import services
from groups.demo import GROUPS
from groups.models import ExpertGroup, ExtensionRequest, Mandate, Membership
from groups.selectors import groups_with_lifecycle
from portal.models import Activity, Notification

pytestmark = pytest.mark.django_db

SEEDS = Path(settings.BASE_DIR).parent / "shared" / "seeds"


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (ExpertGroup, Mandate, ExtensionRequest, Membership, Activity, Notification)
    }


def demo() -> str:
    out = StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


@pytest.fixture
def groups():
    first = demo()
    assert "Demo data is ready." in first
    return {group.slug: group for group in groups_with_lifecycle()}


def test_running_demo_data_twice_changes_nothing(groups):
    before = counts()
    assert before["ExpertGroup"] == len(GROUPS)
    states = {slug: group.state for slug, group in groups.items()}
    output = demo()
    assert counts() == before
    assert {g.slug: g.state for g in groups_with_lifecycle()} == states
    for group in groups.values():
        assert f"group {group.name}: {group.lifecycle.label}" in output


def test_the_demo_groups_are_at_the_stages_the_demo_needs(groups):
    states = {slug: group.state for slug, group in groups.items()}
    expiring = groups["electronic-monitoring"].lifecycle
    assert states["electronic-monitoring"] == "expiring_soon"
    assert 0 < expiring.days_left <= 30
    assert states["violent-extremism"] == "extended"
    assert states["fnpp"] == "extended"
    assert states["education-training"] == "extension_requested"
    assert groups["education-training"].lifecycle.pending_extension is not None
    assert states["sex-offender-management"] == "archived"
    assert states["domestic-violence"] == "archived"
    for slug in ("communication", "mental-health", "research", "technology"):
        assert states[slug] == "active", slug
    for slug in ("violent-extremism", "fnpp"):
        terms = list(groups[slug].mandates.order_by("term"))
        assert [m.term for m in terms] == [1, 2]
        assert terms[0].end_date == terms[1].start_date
        request = ExtensionRequest.objects.get(group=groups[slug])
        assert request.state == "approved" and request.decided_at is not None


def test_every_demo_group_has_a_timeline_written_by_the_services(groups):
    for slug, group in groups.items():
        verbs = set(Activity.objects.filter(group=group).values_list("verb", flat=True))
        assert "group.created" in verbs, slug
    verbs_of = {
        slug: set(Activity.objects.filter(group=groups[slug]).values_list("verb", flat=True))
        for slug in groups
    }
    assert {"membership.requested", "membership.joined"} <= verbs_of["mental-health"]
    assert "membership.requested" in verbs_of["technology"]
    assert "mandate.extension_requested" in verbs_of["education-training"]
    assert {"mandate.extension_approved", "membership.confirmed"} <= verbs_of["violent-extremism"]
    assert {"mandate.extension_approved", "group.archived"} <= verbs_of["domestic-violence"]


def test_the_history_of_the_demo_groups_is_in_order(groups):
    for slug, group in groups.items():
        first_start = group.mandates.order_by("term").first().start_date
        rows = Activity.objects.filter(group=group).order_by("created_at", "pk")
        assert rows.first().verb == "group.created", slug
        assert rows.first().created_at.date() <= first_start, slug
    for slug in ("sex-offender-management", "domestic-violence"):
        group = groups[slug]
        last_end = group.mandates.order_by("-term").first().end_date
        assert last_end < group.archived_at.date()
        members = Membership.objects.filter(group=group, started_at__isnull=False)
        assert members.exists()
        assert all(m.started_at < group.archived_at for m in members), slug
        archived = Activity.objects.get(group=group, verb="group.archived")
        assert abs(archived.created_at - group.archived_at).total_seconds() < 60


def test_the_demo_needs_no_lapsed_members_nor_e_mails_for_its_past(groups):
    assert services.memberships_end_unconfirmed() == 0
    pending = Membership.objects.get(group=groups["technology"], state="requested")
    assert pending.user.email == "expert2@example.org"
    # What the build notified in the past counts as e-mailed then: no backlog is mailed.
    # Only today's news (a join request, an extension request) goes out.
    unsent = Notification.objects.filter(emailed_at__isnull=True)
    assert sorted(unsent.values_list("title", flat=True)) == [
        "Education & Training asks for an extension",
        "Elena Expert asks to join Technology",
    ]
    assert all(timezone.now() - n.created_at < timedelta(hours=1) for n in unsent)


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the organisation's pages are not at {SEEDS}")
def test_the_demo_group_names_are_those_of_the_organisations_pages():
    text = " ".join(path.read_text() for path in SEEDS.glob("*.txt")).lower()
    text = re.sub(r"\s+", " ", text)
    for name, *_rest in GROUPS:
        assert name.lower() in text, name
