"""Demo groups from the organisation's own list, at different mandate stages.

Idempotent: running it again leaves existing groups as they are.
Summaries are short paraphrases written for the demo.
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .models import ExpertGroup, ExtensionRequest, Mandate, Membership

# (name, slug, kind, standing, stage, summary)
# stage: days since term 1 started; "extended" = in term 2; "pending" = extension asked;
# "archived" = past group.
GROUPS = [
    (
        "Communication and Awareness-Raising",
        "communication",
        "expert_group",
        False,
        200,
        "Helps probation services tell their own story, counter stereotypes and share "
        "communication campaigns that worked.",
    ),
    (
        "Electronic Monitoring",
        "electronic-monitoring",
        "expert_group",
        False,
        710,
        "Plans the confederation's electronic monitoring conferences and shares practice on "
        "monitoring technology between them.",
    ),
    (
        "Education & Training",
        "education-training",
        "expert_group",
        False,
        "pending",
        "Exchanges training methods and materials so probation staff across Europe are "
        "trained to comparable standards.",
    ),
    (
        "Mental Health",
        "mental-health",
        "expert_group",
        False,
        400,
        "Looks at how probation can recognise and respond to the mental health needs of the "
        "people it supervises.",
    ),
    (
        "Technology",
        "technology",
        "expert_group",
        False,
        90,
        "Follows the use of artificial intelligence, apps, virtual reality and other tools in "
        "everyday probation work.",
    ),
    (
        "Violent Extremism",
        "violent-extremism",
        "expert_group",
        False,
        "extended",
        "Brings together practitioners working with radicalised people in prison and on "
        "probation, and on disengagement.",
    ),
    (
        "Research",
        "research",
        "expert_group",
        False,
        300,
        "Connects researchers and services so that evaluation and evidence feed better practice.",
    ),
    (
        "Gender-based Violence",
        "gender-based-violence",
        "expert_group",
        False,
        150,
        "Shares approaches to supervising people who committed gender-based violence and to "
        "protecting victims.",
    ),
    (
        "Caseload and Workload",
        "caseload-workload",
        "expert_group",
        False,
        500,
        "Studies how caseloads are measured and managed, and what excessive workloads do to "
        "staff and supervision.",
    ),
    (
        "Foreign Nationals in Prison and Probation",
        "fnpp",
        "network",
        True,
        "extended",
        "A standing network on the rights and resettlement of people imprisoned or supervised "
        "outside their own country.",
    ),
    (
        "Sex Offender Management",
        "sex-offender-management",
        "expert_group",
        False,
        "archived",
        "Exchanged practice on supervising people convicted of sexual offences.",
    ),
    (
        "Domestic Violence",
        "domestic-violence",
        "expert_group",
        False,
        "archived",
        "Explored a joint approach to domestic violence with prison and probation partners.",
    ),
]


def _years(days: int) -> timedelta:
    return timedelta(days=days)


@transaction.atomic
def demo_groups() -> list[str]:
    from .services import mandate_end

    today = timezone.localdate()
    staff = User.objects.filter(email="secretariat@example.org").first()
    coordinator = User.objects.get(email="coordinator@example.org")
    expert1 = User.objects.get(email="expert1@example.org")
    expert2 = User.objects.get(email="expert2@example.org")
    lines = []
    for name, slug, kind, standing, stage, summary in GROUPS:
        group, created = ExpertGroup.objects.get_or_create(
            slug=slug,
            defaults={
                "name": name,
                "kind": kind,
                "standing_membership": standing,
                "summary": summary,
                "created_by": staff,
                "description": "Working space of the group: documents, meetings and chat.",
            },
        )
        if not created:
            continue
        if stage == "archived":
            start = today - timedelta(days=365 * 4 + 200)
            t1 = Mandate.objects.create(
                group=group, term=1, start_date=start, end_date=mandate_end(start)
            )
            Mandate.objects.create(
                group=group, term=2, start_date=t1.end_date, end_date=mandate_end(t1.end_date)
            )
            group.archived_at = timezone.now() - timedelta(days=150)
            group.archived_by = staff
            group.save()
        elif stage == "extended":
            start = today - timedelta(days=365 * 2 + 120)
            t1 = Mandate.objects.create(
                group=group, term=1, start_date=start, end_date=mandate_end(start)
            )
            Mandate.objects.create(
                group=group, term=2, start_date=t1.end_date, end_date=mandate_end(t1.end_date)
            )
            ExtensionRequest.objects.create(
                group=group,
                mandate=t1,
                requested_by=coordinator,
                state="approved",
                justification="The group has more work ahead on its current themes.",
                decided_by=staff,
                decided_at=timezone.now() - timedelta(days=150),
            )
        elif stage == "pending":
            start = today - timedelta(days=650)
            t1 = Mandate.objects.create(
                group=group, term=1, start_date=start, end_date=mandate_end(start)
            )
            ExtensionRequest.objects.create(
                group=group,
                mandate=t1,
                requested_by=coordinator,
                justification="We are halfway through a comparative study of training curricula "
                "and need a second term to finish and publish it.",
            )
        else:
            start = today - timedelta(days=stage)
            Mandate.objects.create(
                group=group, term=1, start_date=start, end_date=mandate_end(start)
            )
        now = timezone.now()
        Membership.objects.create(
            user=coordinator,
            group=group,
            role="coordinator",
            state="active",
            started_at=now,
            confirmed_term=2,
        )
        if slug in {
            "electronic-monitoring",
            "mental-health",
            "fnpp",
            "violent-extremism",
            "sex-offender-management",
        }:
            Membership.objects.create(
                user=expert1,
                group=group,
                role="member",
                state="active",
                started_at=now,
                confirmed_term=2,
            )
        if slug == "technology":
            Membership.objects.create(
                user=expert2,
                group=group,
                state="requested",
                motivation="I lead the electronic monitoring unit in my service.",
            )
        lines.append(f"group {group.name}: {group.lifecycle.label}")
    return lines
