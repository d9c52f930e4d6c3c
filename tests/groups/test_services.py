from datetime import date, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from groups import services
from groups.lifecycle import lifecycle_of
from groups.models import ExtensionRequest, Mandate, Membership
from groups.services import GroupError
from portal.models import Activity, Notification
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _today_is_early_2026():
    """The dates below are absolute; keep "today" where they were written for."""
    with time_machine.travel(date(2026, 1, 5), tick=True):
        yield


def fresh(group):
    from groups.selectors import group_for_viewer

    return group_for_viewer(slug=group.slug)


def test_group_create_gives_a_two_year_first_term_and_coordinators():
    group = make_group(start=date(2026, 3, 1))
    (mandate,) = group.mandates.all()
    assert (mandate.term, mandate.start_date, mandate.end_date) == (
        1,
        date(2026, 3, 1),
        date(2028, 3, 1),
    )
    assert Membership.objects.filter(group=group, role="coordinator", state="active").count() == 1
    assert Activity.objects.filter(group=group, verb="group.created").count() == 1


def test_only_the_secretariat_creates_groups():
    with pytest.raises(PermissionDenied):
        services.group_create(
            actor=UserFactory(),
            name="X",
            slug="x",
            kind="expert_group",
            summary="s",
            start_date=timezone.localdate(),
            coordinators=[],
        )


def test_a_start_far_in_the_past_is_refused():
    with pytest.raises(GroupError):
        make_group(start=timezone.localdate() - timedelta(days=800))


def test_lifecycle_moves_through_its_states_with_time():
    group = make_group(start=date(2026, 1, 10))
    assert lifecycle_of(group, on=date(2026, 1, 9)).state == "proposed"
    assert lifecycle_of(group, on=date(2026, 6, 1)).state == "active"
    assert lifecycle_of(group, on=date(2027, 11, 1)).state == "expiring_soon"
    assert lifecycle_of(group, on=date(2028, 1, 10)).state == "expired"


def request_extension(group, text="We have a second study to finish and publish next year."):
    return services.extension_request(
        actor=coordinator_of(group), group=fresh(group), justification=text
    )


def test_extension_request_and_approval_add_term_two_of_two_years():
    group = make_group(start=date(2026, 1, 10))
    staff = make_secretariat(UserFactory())
    with time_machine.travel(date(2027, 10, 1)):
        request = request_extension(group)
        assert fresh(group).state == "extension_requested"
        services.extension_decide(actor=staff, request=request, approve=True, reason="Good work.")
        term2 = Mandate.objects.get(group=group, term=2)
        assert (term2.start_date, term2.end_date) == (date(2028, 1, 10), date(2030, 1, 10))
    with time_machine.travel(date(2028, 6, 1)):
        assert fresh(group).state == "extended"
    assert Activity.objects.filter(group=group, verb="mandate.extension_approved").count() == 1


def test_an_approved_extension_makes_the_group_extended_at_once():
    group = make_group(start=date(2026, 1, 10))
    staff = make_secretariat(UserFactory())
    decided_on = date(2027, 11, 1)
    with time_machine.travel(decided_on):
        assert fresh(group).state == "expiring_soon"
        request = request_extension(group)
        services.extension_decide(actor=staff, request=request, approve=True)
        life = fresh(group).lifecycle
    # Term 1 is still in force, but the mandate now ends with term 2.
    assert (life.state, life.current.term, life.last.term) == ("extended", 1, 2)
    assert life.days_left == (date(2030, 1, 10) - decided_on).days
    assert life.term_days_left == (date(2028, 1, 10) - decided_on).days
    assert not life.can_request_extension
    # "Expiring soon" counts to the end of term 2, not term 1.
    group = fresh(group)
    assert lifecycle_of(group, on=date(2028, 1, 9)).state == "extended"
    assert lifecycle_of(group, on=date(2028, 1, 10)).state == "extended"
    assert lifecycle_of(group, on=date(2029, 11, 1)).state == "expiring_soon"
    assert lifecycle_of(group, on=date(2030, 1, 10)).state == "expired"


def test_a_refused_extension_leaves_the_group_expiring_on_term_one():
    group = make_group(start=date(2026, 1, 10))
    staff = make_secretariat(UserFactory())
    with time_machine.travel(date(2027, 11, 1)):
        request = request_extension(group)
        services.extension_decide(actor=staff, request=request, approve=False, reason="No.")
        life = fresh(group).lifecycle
    assert (life.state, life.days_left) == (
        "expiring_soon",
        (date(2028, 1, 10) - date(2027, 11, 1)).days,
    )


def test_a_second_extension_is_refused_by_the_service():
    group = make_group(start=date(2026, 1, 10))
    staff = make_secretariat(UserFactory())
    with time_machine.travel(date(2027, 10, 1)):
        services.extension_decide(actor=staff, request=request_extension(group), approve=True)
    with time_machine.travel(date(2029, 6, 1)), pytest.raises(GroupError) as excinfo:
        request_extension(group)
    assert "only once" in str(excinfo.value)


def test_a_second_extension_is_refused_by_the_database():
    group = make_group(start=date(2026, 1, 10))
    Mandate.objects.create(
        group=group, term=2, start_date=date(2028, 1, 10), end_date=date(2030, 1, 10)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.create(
            group=group, term=3, start_date=date(2030, 1, 10), end_date=date(2032, 1, 10)
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.create(
            group=group, term=2, start_date=date(2030, 1, 10), end_date=date(2032, 1, 10)
        )


def test_dates_in_the_wrong_order_are_refused_by_the_database():
    group = make_group()
    with pytest.raises(IntegrityError), transaction.atomic():
        Mandate.objects.filter(group=group).update(end_date=date(2000, 1, 1))


def test_extension_after_expiry_is_refused_with_a_clear_message():
    group = make_group(start=date(2026, 1, 10))
    with time_machine.travel(date(2028, 2, 1)), pytest.raises(GroupError) as excinfo:
        request_extension(group)
    assert excinfo.value.code == "expired"
    assert "before the end of term 1" in str(excinfo.value)
    assert not ExtensionRequest.objects.filter(group=group).exists()


def test_extension_of_an_archived_or_proposed_group_is_refused():
    staff = make_secretariat(UserFactory())
    archived = make_group(start=date(2026, 1, 10), actor=staff)
    proposed = make_group(start=date(2026, 3, 1), actor=staff)
    with pytest.raises(PermissionDenied):
        request_extension(proposed)
    with time_machine.travel(date(2028, 2, 1)):
        services.group_archive(actor=staff, group=fresh(archived))
        with pytest.raises(PermissionDenied):
            request_extension(archived)
    assert not ExtensionRequest.objects.exists()


def test_extension_requests_by_non_coordinators_are_refused():
    group = make_group()
    member = add_member(group)
    with pytest.raises(PermissionDenied):
        services.extension_request(actor=member, group=fresh(group), justification="x" * 40)


def test_a_second_pending_request_is_refused():
    group = make_group()
    request_extension(group)
    with pytest.raises(GroupError):
        request_extension(group)
    assert ExtensionRequest.objects.filter(group=group).count() == 1


def test_the_secretariat_cannot_approve_its_own_request():
    staff = make_secretariat(UserFactory())
    group = make_group(coordinators=[staff])
    request = services.extension_request(actor=staff, group=fresh(group), justification="y" * 40)
    with pytest.raises(GroupError):
        services.extension_decide(actor=staff, request=request, approve=True)
    assert not Mandate.objects.filter(group=group, term=2).exists()


def test_refusal_needs_a_reason_and_adds_no_term():
    group = make_group()
    staff = make_secretariat(UserFactory())
    request = request_extension(group)
    with pytest.raises(GroupError):
        services.extension_decide(actor=staff, request=request, approve=False, reason="")
    services.extension_decide(actor=staff, request=request, approve=False, reason="Work is done.")
    assert not Mandate.objects.filter(group=group, term=2).exists()
    assert ExtensionRequest.objects.get().state == "refused"


def test_a_secretariat_member_without_mfa_cannot_decide():
    group = make_group()
    request = request_extension(group)
    staff = make_secretariat(UserFactory(), with_mfa=False)
    with pytest.raises(PermissionDenied):
        services.extension_decide(actor=staff, request=request, approve=True)


def test_join_request_then_approval_makes_a_member_and_notifies(django_capture_on_commit_callbacks):
    group = make_group()
    expert = UserFactory()
    membership = services.membership_request(
        actor=expert, group=group, motivation="I work on this topic daily."
    )
    assert Notification.objects.filter(user=coordinator_of(group), category="membership").exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_approve(actor=coordinator_of(group), membership=membership)
    membership.refresh_from_db()
    assert membership.state == "active"
    assert expert.has_perm("groups.view_group", fresh(group))
    assert any("Welcome" in m.subject for m in mail.outbox)


def test_duplicate_join_requests_are_refused():
    group = make_group()
    expert = UserFactory()
    services.membership_request(actor=expert, group=group, motivation="First request here.")
    with pytest.raises(GroupError):
        services.membership_request(actor=expert, group=group, motivation="Second request here.")
    assert Membership.objects.filter(user=expert, group=group).count() == 1


def test_members_cannot_approve_requests():
    group = make_group()
    member = add_member(group)
    membership = services.membership_request(
        actor=UserFactory(), group=group, motivation="Please let me in."
    )
    with pytest.raises(PermissionDenied):
        services.membership_approve(actor=member, membership=membership)


def test_joining_an_archived_group_is_refused():
    group = make_group(start=date(2025, 12, 1))
    staff = make_secretariat(UserFactory())
    with time_machine.travel(date(2028, 1, 1)):
        services.group_archive(actor=staff, group=fresh(group))
        with pytest.raises(GroupError):
            services.membership_request(
                actor=UserFactory(), group=fresh(group), motivation="Too late to join?"
            )


def test_the_last_coordinator_cannot_leave_or_be_removed_or_step_down():
    group = make_group()
    coordinator = coordinator_of(group)
    with pytest.raises(GroupError):
        services.membership_leave(actor=coordinator, group=group)
    membership = Membership.objects.get(group=group, user=coordinator, state="active")
    with pytest.raises(GroupError):
        services.membership_set_role(actor=coordinator, membership=membership, role="member")
    staff = make_secretariat(UserFactory())
    with pytest.raises(GroupError):
        services.membership_remove(actor=staff, membership=membership)
    assert Membership.objects.get(pk=membership.pk).state == "active"


def test_promotion_keeps_history_and_then_the_old_coordinator_may_step_down():
    group = make_group()
    coordinator = coordinator_of(group)
    member = add_member(group)
    row = Membership.objects.get(user=member, group=group, state="active")
    services.membership_set_role(actor=coordinator, membership=row, role="coordinator")
    history = list(Membership.objects.filter(user=member, group=group).order_by("created_at"))
    assert [(m.role, m.state) for m in history] == [("member", "ended"), ("coordinator", "active")]
    mine = Membership.objects.get(user=coordinator, group=group, state="active")
    services.membership_set_role(actor=coordinator, membership=mine, role="member")
    assert Membership.objects.get(user=coordinator, group=group, state="active").role == "member"


def test_invitation_for_someone_without_an_account_lands_them_in_the_group(
    django_capture_on_commit_callbacks,
):
    group = make_group()
    with django_capture_on_commit_callbacks(execute=True):
        invitation = services.invitation_create(
            actor=coordinator_of(group), group=group, email="Newcomer@Example.org"
        )
    assert any(invitation.token in m.body for m in mail.outbox)
    newcomer = UserFactory(email="newcomer@example.org")
    services.invitation_accept(actor=newcomer, invitation=invitation)
    assert newcomer.has_perm("groups.view_group", fresh(group))


def test_an_invitation_cannot_be_used_by_someone_else():
    group = make_group()
    invitation = services.invitation_create(
        actor=coordinator_of(group), group=group, email="a@example.org"
    )
    with pytest.raises(GroupError):
        services.invitation_accept(actor=UserFactory(email="b@example.org"), invitation=invitation)


def test_closing_early_expires_and_archiving_makes_it_read_only():
    group = make_group()
    staff = make_secretariat(UserFactory())
    with pytest.raises(GroupError):
        services.group_archive(actor=staff, group=fresh(group))  # still active
    services.group_close(actor=staff, group=fresh(group), reason="The work is complete.")
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert fresh(group).state == "expired"
        member = coordinator_of(group)
        assert member.has_perm("groups.view_group", fresh(group))
        assert not member.has_perm("groups.contribute", fresh(group))
        services.group_archive(actor=staff, group=fresh(group))
        assert fresh(group).state == "archived"


def test_ordinary_groups_ask_members_to_confirm_for_term_two_and_standing_groups_do_not():
    staff = make_secretariat(UserFactory())
    ordinary = make_group(start=date(2026, 1, 10))
    standing = make_group(start=date(2026, 1, 10), standing=True)
    a, b = add_member(ordinary), add_member(standing)
    with time_machine.travel(date(2027, 10, 1)):
        for group in (ordinary, standing):
            services.extension_decide(actor=staff, request=request_extension(group), approve=True)
        assert Notification.objects.filter(user=a, title__contains="confirm").exists()
        assert not Notification.objects.filter(user=b, title__contains="confirm").exists()
    ended = services.memberships_end_unconfirmed(on=date(2028, 1, 11))
    assert ended == 1
    assert not Membership.objects.filter(user=a, group=ordinary, state="active").exists()
    assert Membership.objects.filter(user=b, group=standing, state="active").exists()


def test_a_member_who_confirms_stays_for_term_two():
    staff = make_secretariat(UserFactory())
    group = make_group(start=date(2026, 1, 10))
    member = add_member(group)
    with time_machine.travel(date(2027, 10, 1)):
        services.extension_decide(actor=staff, request=request_extension(group), approve=True)
        services.membership_confirm_term(actor=member, group=fresh(group))
    services.memberships_end_unconfirmed(on=date(2028, 1, 11))
    assert Membership.objects.filter(user=member, group=group, state="active").exists()


def test_closing_after_an_approved_extension_ends_the_group_for_good():
    """Term 2 has not started yet: closing deletes it, so its start date revives nothing."""
    group = make_group(start=date(2026, 1, 10))
    staff = make_secretariat(UserFactory())
    with time_machine.travel(date(2027, 10, 1)):
        services.extension_decide(actor=staff, request=request_extension(group), approve=True)
        assert Mandate.objects.filter(group=group, term=2).exists()
    with time_machine.travel(date(2027, 11, 15)):
        services.group_close(actor=staff, group=fresh(group), reason="Funding has stopped.")
        assert fresh(group).state == "expired"
    assert list(Mandate.objects.filter(group=group).values_list("term", "end_date")) == [
        (1, date(2027, 11, 15))
    ]
    closed = Activity.objects.get(group=group, verb="group.closed")
    assert closed.data["terms_cancelled"] == [
        {"term": 2, "start_date": "2028-01-10", "end_date": "2030-01-10"}
    ]
    assert "term 2 (2028-01-10 – 2030-01-10) cancelled" in closed.summary
    for day in (date(2028, 1, 10), date(2028, 6, 1), date(2030, 2, 1)):
        with time_machine.travel(day):
            assert fresh(group).state == "expired", day
    with time_machine.travel(date(2028, 1, 10)):
        services.group_archive(actor=staff, group=fresh(group))
        assert fresh(group).state == "archived"


def test_closing_during_term_two_ends_term_two_and_keeps_term_one():
    group = make_group(start=date(2026, 1, 10))
    staff = make_secretariat(UserFactory())
    with time_machine.travel(date(2027, 10, 1)):
        services.extension_decide(actor=staff, request=request_extension(group), approve=True)
    with time_machine.travel(date(2028, 5, 2)):
        services.group_close(actor=staff, group=fresh(group), reason="The work is complete.")
        assert fresh(group).state == "expired"
    assert list(Mandate.objects.filter(group=group).values_list("term", "end_date")) == [
        (1, date(2028, 1, 10)),
        (2, date(2028, 5, 2)),
    ]
    assert Activity.objects.get(group=group, verb="group.closed").data["terms_cancelled"] == []


def test_closing_with_a_stale_group_object_still_cancels_term_two():
    """The service reads the mandates itself: a group fetched before the approval is enough."""
    group = make_group(start=date(2026, 1, 10))
    staff = make_secretariat(UserFactory())
    with time_machine.travel(date(2027, 10, 1)):
        stale = fresh(group)
        list(stale.mandates.all())  # prefetched: term 1 only
        services.extension_decide(actor=staff, request=request_extension(group), approve=True)
        services.group_close(actor=staff, group=stale, reason="Merged into another group.")
    assert not Mandate.objects.filter(group=group, term=2).exists()


def test_nobody_approves_their_own_join_request():
    """Only someone who manages members without being one has a request of their own to
    approve: the secretariat. A coordinator is a member already and cannot ask at all."""
    group = make_group()
    staff = make_secretariat(UserFactory())
    request = services.membership_request(
        actor=staff, group=fresh(group), motivation="I would like to follow this group."
    )
    assert staff.has_perm("groups.manage_members", fresh(group))
    with pytest.raises(GroupError) as excinfo:
        services.membership_approve(actor=staff, membership=request)
    assert excinfo.value.code == "own_request"
    request.refresh_from_db()
    assert request.state == "requested" and request.decided_by is None
    assert not Activity.objects.filter(group=group, verb="membership.joined").exists()
    with pytest.raises(GroupError) as excinfo:
        services.membership_request(
            actor=coordinator_of(group), group=fresh(group), motivation="Let me in twice."
        )
    assert excinfo.value.code == "member"
    services.membership_approve(actor=coordinator_of(group), membership=request)
    assert Membership.objects.get(pk=request.pk).state == "active"
