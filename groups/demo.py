"""Demo groups from the organisation's own list, at different mandate stages.

Every group is built through the real services (``groups.services``), so its
activity timeline, notifications and memberships are what the portal itself
would have recorded. Services refuse dates far in the past, so a group is
built as if it started today and its whole history is then moved back in time
by queryset updates (``_move_back``): mandates, extension requests,
memberships, activities and the notifications the build sent. Stages that need
several steps (extended, archived) alternate steps and moves.

Idempotent: a group whose slug exists is left as it is.
Summaries are short paraphrases written for the demo.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Max
from django.utils import timezone

from accounts.models import User
from portal.models import Activity, Notification

from .models import ExpertGroup, ExtensionRequest, Mandate, Membership
from .rules import forget_memberships

# (name, slug, kind, standing, stage, summary)
# stage: days since term 1 started (730 days = a full term); "extended" = in term 2;
# "pending" = extension asked; "archived" = past group.
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


# Members besides the coordinator (who coordinates every demo group).
EXPERT1_GROUPS = {
    "electronic-monitoring",
    "mental-health",
    "fnpp",
    "violent-extremism",
    "sex-offender-management",
}
EXPERT2_REQUESTS = {"technology"}

TERM = 730  # days in a two-year term, near enough for the demo
EXTENDED_DAYS_IN_TERM_2 = 120
PENDING_DAYS_IN_TERM_1 = 650
ARCHIVED_DAYS_AGO = 150
ARCHIVED_ENDED_BEFORE_ARCHIVE = 50
#: How long before the end of term 1 the extension is asked (extended and archived groups).
ASKED_DAYS_BEFORE_END = 60


@dataclass(frozen=True)
class People:
    staff: User
    coordinator: User
    expert1: User
    expert2: User

    def forget(self) -> None:
        for user in (self.staff, self.coordinator, self.expert1, self.expert2):
            forget_memberships(user)


def _fresh(group_id: int) -> ExpertGroup:
    """The group re-read: its cached lifecycle must see the moved dates."""
    from .selectors import groups_with_lifecycle

    return groups_with_lifecycle().get(pk=group_id)


def _move_back(group_id: int, days: int, *, notifications_after: int) -> None:
    """Move everything that happened to the group ``days`` days back in time.

    Mandates move term by term from the first, so that no step makes two terms
    overlap (the database refuses that). Notifications the build sent (those with
    a pk above ``notifications_after``) move too and count as e-mailed then, so
    a fresh demo does not mail months of history at once.
    """
    delta = timedelta(days=days)
    for mandate in Mandate.objects.filter(group_id=group_id).order_by("term"):
        Mandate.objects.filter(pk=mandate.pk).update(
            start_date=mandate.start_date - delta,
            end_date=mandate.end_date - delta,
            created_at=F("created_at") - delta,
        )
    ExpertGroup.objects.filter(pk=group_id).update(created_at=F("created_at") - delta)
    ExpertGroup.objects.filter(pk=group_id, archived_at__isnull=False).update(
        archived_at=F("archived_at") - delta
    )
    ExtensionRequest.objects.filter(group_id=group_id).update(
        requested_at=F("requested_at") - delta
    )
    ExtensionRequest.objects.filter(group_id=group_id, decided_at__isnull=False).update(
        decided_at=F("decided_at") - delta
    )
    memberships = Membership.objects.filter(group_id=group_id)
    memberships.update(created_at=F("created_at") - delta)
    memberships.filter(started_at__isnull=False).update(started_at=F("started_at") - delta)
    memberships.filter(ended_at__isnull=False).update(ended_at=F("ended_at") - delta)
    Activity.objects.filter(group_id=group_id).update(created_at=F("created_at") - delta)
    Notification.objects.filter(pk__gt=notifications_after).update(
        created_at=F("created_at") - delta, emailed_at=F("created_at") - delta
    )


def _add_members(group: ExpertGroup, people: People) -> None:
    from . import services

    if group.slug in EXPERT1_GROUPS:
        request = services.membership_request(
            actor=people.expert1,
            group=group,
            motivation="I coordinate this topic in my service and would like to share our "
            "experience.",
        )
        services.membership_approve(actor=people.coordinator, membership=request)
    people.forget()


def _ask_to_join(group: ExpertGroup, people: People) -> None:
    from . import services

    if group.slug in EXPERT2_REQUESTS:
        services.membership_request(
            actor=people.expert2,
            group=group,
            motivation="I lead the electronic monitoring unit in my service.",
        )


def _extend(group_id: int, people: People, *, justification: str, mark: int) -> None:
    """Term 1 ends in ``ASKED_DAYS_BEFORE_END`` days: ask, approve, members confirm."""
    from . import services

    days_in = TERM - ASKED_DAYS_BEFORE_END
    _move_back(group_id, days_in, notifications_after=mark)
    group = _fresh(group_id)
    request = services.extension_request(
        actor=people.coordinator, group=group, justification=justification
    )
    services.extension_decide(
        actor=people.staff,
        request=request,
        approve=True,
        reason="The secretariat supports a second term.",
    )
    group = _fresh(group_id)
    if not group.standing_membership:
        for membership in Membership.objects.filter(
            group=group, state=Membership.State.ACTIVE, confirmed_term__lt=2
        ).select_related("user"):
            services.membership_confirm_term(actor=membership.user, group=group)


def _build(slug, name, kind, standing, stage, summary, people: People) -> ExpertGroup:
    from . import services

    mark = Notification.objects.aggregate(last=Max("pk"))["last"] or 0
    group = services.group_create(
        actor=people.staff,
        name=name,
        slug=slug,
        kind=kind,
        summary=summary,
        description="Working space of the group: documents, meetings and chat.",
        standing_membership=standing,
        start_date=timezone.localdate(),
        coordinators=[people.coordinator],
    )
    _add_members(group, people)
    if stage == "pending":
        _move_back(group.pk, PENDING_DAYS_IN_TERM_1, notifications_after=mark)
        services.extension_request(
            actor=people.coordinator,
            group=_fresh(group.pk),
            justification="We are halfway through a comparative study of training curricula "
            "and need a second term to finish and publish it.",
        )
    elif stage == "extended":
        _extend(
            group.pk,
            people,
            justification="The group has more work ahead on its current themes.",
            mark=mark,
        )
        _move_back(
            group.pk, ASKED_DAYS_BEFORE_END + EXTENDED_DAYS_IN_TERM_2, notifications_after=mark
        )
    elif stage == "archived":
        _extend(
            group.pk,
            people,
            justification="The group wants to publish its handbook in a second term.",
            mark=mark,
        )
        # Term 2 ends 2 years after term 1, which ends in ASKED_DAYS_BEFORE_END days.
        _move_back(
            group.pk,
            ASKED_DAYS_BEFORE_END + TERM + ARCHIVED_ENDED_BEFORE_ARCHIVE,
            notifications_after=mark,
        )
        services.group_archive(actor=people.staff, group=_fresh(group.pk))
        _move_back(group.pk, ARCHIVED_DAYS_AGO, notifications_after=mark)
    else:
        _move_back(group.pk, stage, notifications_after=mark)
        _ask_to_join(_fresh(group.pk), people)
    people.forget()
    return _fresh(group.pk)


@transaction.atomic
def demo_groups() -> list[str]:
    """Create the demo groups that do not exist yet; one line per group with its state."""
    people = People(
        staff=User.objects.get(email="secretariat@example.org"),
        coordinator=User.objects.get(email="coordinator@example.org"),
        expert1=User.objects.get(email="expert1@example.org"),
        expert2=User.objects.get(email="expert2@example.org"),
    )
    lines = []
    for name, slug, kind, standing, stage, summary in GROUPS:
        if ExpertGroup.objects.filter(slug=slug).exists():
            group = _fresh(ExpertGroup.objects.get(slug=slug).pk)
        else:
            group = _build(slug, name, kind, standing, stage, summary, people)
        lines.append(f"group {group.name}: {group.lifecycle.label}")
    return lines
