"""Scheduling, changing, cancelling, answering, attendance, minutes and date polls."""

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from groups import services as group_services
from groups.models import ExpertGroup
from meetings import services
from meetings.models import DatePoll, Invitee, Meeting, PollSlot, PollVote
from meetings.services import MeetingError
from portal.models import Activity, Notification, Reminder
from tests.conftest import make_secretariat
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

from .factories import BRUSSELS, NOW, frozen, local, make_meeting, make_poll

pytestmark = pytest.mark.django_db


def invited(meeting) -> set[int]:
    return set(meeting.invitees.values_list("user_id", flat=True))


def recipients() -> list[str]:
    return sorted(m.to[0] for m in mail.outbox)


# --- Scheduling ------------------------------------------------------------


def test_scheduling_invites_every_member_and_sends_each_an_invitation(group, member, commit):
    coordinator = coordinator_of(group)
    with commit():
        meeting = make_meeting(group, place="Rue de la Loi 1, Brussels")
    assert invited(meeting) == {coordinator.pk, member.pk}
    assert meeting.invite_all
    assert recipients() == sorted([coordinator.email, member.email])
    assert all(
        m.subject.startswith("[Expert Group Portal] Invitation: Spring plenary")
        for m in mail.outbox
    )
    assert Notification.objects.filter(category="meetings", user=member).count() == 1
    assert Activity.objects.filter(verb="meeting.scheduled", group=group).count() == 1


def test_a_selection_of_members_can_be_invited(group, member, commit):
    add_member(group)
    with commit():
        meeting = make_meeting(group, invitees=[member])
    assert invited(meeting) == {member.pk}
    assert not meeting.invite_all
    assert recipients() == [member.email]


def test_a_forged_invitee_from_another_group_saves_nothing(group, member, commit):
    stranger = add_member(make_group(slug="elsewhere"))
    with commit(), pytest.raises(MeetingError) as caught:
        make_meeting(group, invitees=[member, stranger])
    assert caught.value.message_dict["invitees"] == ["Only members of this group can be invited."]
    assert Meeting.objects.count() == 0
    assert Invitee.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("start", "end", "field", "text"),
    [
        (local(2027, 3, 10, 12), local(2027, 3, 10, 11), "ends_at", "end must come after"),
        (local(2027, 3, 10, 12), local(2027, 3, 10, 12), "ends_at", "end must come after"),
        (local(2027, 2, 28, 10), local(2027, 2, 28, 12), "starts_at", "already passed"),
        (local(2027, 3, 1, 9, 0), local(2027, 3, 1, 10), "starts_at", "already passed"),
        (local(2027, 3, 10, 10), local(2027, 3, 14, 10), "ends_at", "at most 72 hours"),
    ],
)
def test_times_that_make_no_sense_are_refused_and_nothing_is_saved(group, start, end, field, text):
    with pytest.raises(MeetingError) as caught:
        make_meeting(group, starts_at=start, ends_at=end)
    assert text in caught.value.message_dict[field][0]
    assert Meeting.objects.count() == 0


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.cookie)",
        "http://meet.example.org/room",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://files.example.org",
        "meet.example.org/room",
    ],
)
def test_an_online_link_must_be_https(group, link):
    with pytest.raises(MeetingError) as caught:
        make_meeting(group, online_url=link)
    assert "https://" in caught.value.message_dict["online_url"][0]
    assert Meeting.objects.count() == 0


def test_a_broken_https_link_is_refused(group):
    with pytest.raises(MeetingError) as caught:
        make_meeting(group, online_url="https://exa mple")
    assert caught.value.message_dict["online_url"] == [
        "The online link is not a valid web address."
    ]


def test_every_problem_is_reported_at_once(group):
    with pytest.raises(MeetingError) as caught:
        make_meeting(
            group,
            title="  ",
            starts_at=local(2027, 3, 10, 12),
            ends_at=local(2027, 3, 10, 11),
            online_url="http://x.org",
        )
    assert set(caught.value.message_dict) == {"title", "ends_at", "online_url"}


def test_members_cannot_schedule(group, member):
    with pytest.raises(PermissionDenied):
        make_meeting(group, actor=member)


def test_the_secretariat_can_schedule_in_an_active_group(group, member):
    staff = make_secretariat(UserFactory())
    meeting = make_meeting(group, actor=staff)
    assert meeting.created_by == staff


def test_nothing_can_be_scheduled_in_an_archived_group_but_its_meetings_stay(
    group, member, secretariat_user
):
    meeting = make_meeting(group, starts_at=local(2027, 3, 10), ends_at=local(2027, 3, 10, 12))
    poll = make_poll(group)
    group_services.group_close(actor=secretariat_user, group=group, reason="Work finished.")
    with frozen(NOW + timedelta(days=2)):
        archived = group_services.group_archive(
            actor=secretariat_user, group=ExpertGroup.objects.get(pk=group.pk)
        )
        archived = ExpertGroup.objects.get(pk=archived.pk)
        coordinator = coordinator_of(archived)
        for actor in (coordinator, secretariat_user):
            with pytest.raises(PermissionDenied):
                make_meeting(archived, actor=actor)
            with pytest.raises(PermissionDenied):
                make_poll(archived, actor=actor)
        meeting.group = archived
        poll.group = archived
        with pytest.raises(PermissionDenied):
            services.meeting_answer(actor=member, meeting=meeting, answer="yes")
        with pytest.raises(PermissionDenied):
            services.meeting_cancel(actor=coordinator, meeting=meeting, reason="No more group.")
        with pytest.raises(PermissionDenied):
            services.poll_vote(actor=member, poll=poll, choices={poll.slots.first().pk: "yes"})
    assert member.has_perm("meetings.view", archived)
    assert Meeting.objects.filter(pk=meeting.pk).exists()


# --- Changing and cancelling -----------------------------------------------


def test_a_change_raises_the_sequence_and_sends_an_update_to_every_invitee(group, member, commit):
    meeting = make_meeting(group, starts_at=local(2027, 3, 10, 10), ends_at=local(2027, 3, 10, 12))
    services.meeting_answer(actor=member, meeting=meeting, answer="yes", comment="In person")
    with commit():
        updated = services.meeting_update(
            actor=coordinator_of(group),
            meeting=meeting,
            title="Spring plenary",
            starts_at=local(2027, 3, 11, 14),
            ends_at=local(2027, 3, 11, 16),
            timezone_name="Europe/Brussels",
        )
    assert updated.sequence == 1
    assert updated.starts_at == datetime(2027, 3, 11, 14, tzinfo=BRUSSELS)
    assert len(mail.outbox) == 2
    assert all(
        "Changed: Spring plenary, Thursday 11 March 2027, 14:00–16:00" in m.subject
        for m in mail.outbox
    )
    # The time changed: answers are asked again.
    assert Invitee.objects.get(meeting=meeting, user=member).answer == ""
    assert Activity.objects.filter(verb="meeting.updated").count() == 1


def test_a_change_of_place_keeps_the_answers(group, member, commit):
    meeting = make_meeting(group)
    services.meeting_answer(actor=member, meeting=meeting, answer="no")
    with commit():
        updated = services.meeting_update(
            actor=coordinator_of(group),
            meeting=meeting,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
            place="Room 2",
        )
    assert updated.sequence == 1
    assert Invitee.objects.get(meeting=meeting, user=member).answer == "no"


def test_saving_without_a_change_changes_nothing(group, member, commit):
    meeting = make_meeting(group)
    with commit():
        same = services.meeting_update(
            actor=coordinator_of(group),
            meeting=meeting,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
        )
    assert same.sequence == 0
    assert mail.outbox == []


def test_changing_only_the_invitees_invites_the_new_and_uninvites_the_removed(
    group, member, commit
):
    newcomer = add_member(group)
    coordinator = coordinator_of(group)
    meeting = make_meeting(group, invitees=[coordinator, member])
    with commit():
        services.meeting_update(
            actor=coordinator,
            meeting=meeting,
            title=meeting.title,
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
            invitees=[coordinator, newcomer],
        )
    meeting.refresh_from_db()
    assert meeting.sequence == 1  # the attendee list is part of the event
    assert invited(meeting) == {coordinator.pk, newcomer.pk}
    subjects = {m.to[0]: m.subject for m in mail.outbox}
    assert set(subjects) == {newcomer.email, member.email, coordinator.email}
    assert "Invitation:" in subjects[newcomer.email]
    assert "No longer invited:" in subjects[member.email]
    assert "Changed:" in subjects[coordinator.email]


def test_moving_a_meeting_forgets_its_reminder_claims(group, member):
    meeting = make_meeting(group)
    Reminder.objects.create(
        subject_type="meeting", subject_id=meeting.pk, threshold=1440, recipient=member
    )
    Reminder.objects.create(
        subject_type="poll", subject_id=meeting.pk, threshold=1440, recipient=member
    )
    services.meeting_update(
        actor=coordinator_of(group),
        meeting=meeting,
        title=meeting.title,
        starts_at=meeting.starts_at + timedelta(days=1),
        ends_at=meeting.ends_at + timedelta(days=1),
        timezone_name=meeting.timezone,
    )
    assert list(Reminder.objects.values_list("subject_type", flat=True)) == ["poll"]


def test_a_meeting_that_has_started_cannot_be_changed(group, member, clock):
    meeting = make_meeting(group)
    clock.move_to(meeting.starts_at + timedelta(minutes=1))
    with pytest.raises(MeetingError, match="can no longer be changed"):
        services.meeting_update(
            actor=coordinator_of(group),
            meeting=meeting,
            title="Renamed",
            starts_at=meeting.starts_at,
            ends_at=meeting.ends_at,
            timezone_name=meeting.timezone,
        )


def test_cancelling_needs_a_reason_and_tells_every_invitee(group, member, commit):
    meeting = make_meeting(group)
    with pytest.raises(MeetingError) as caught:
        services.meeting_cancel(actor=coordinator_of(group), meeting=meeting, reason="  ")
    assert "reason" in caught.value.message_dict
    with commit():
        cancelled = services.meeting_cancel(
            actor=coordinator_of(group), meeting=meeting, reason="The room is not available."
        )
    assert cancelled.state == Meeting.State.CANCELLED
    assert cancelled.sequence == 1
    assert len(mail.outbox) == 2
    assert all(m.subject.startswith("[Expert Group Portal] Cancelled:") for m in mail.outbox)
    assert "The room is not available." in mail.outbox[0].body
    with pytest.raises(MeetingError, match="already cancelled"):
        services.meeting_cancel(actor=coordinator_of(group), meeting=cancelled, reason="Again")


def test_an_invitation_queued_before_a_cancellation_is_not_sent(
    group, member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        meeting = make_meeting(group)
    services.meeting_cancel(actor=coordinator_of(group), meeting=meeting, reason="Called off.")
    for callback in queued:
        callback()
    assert mail.outbox == []


# --- Answers, attendance, minutes --------------------------------------------


@pytest.mark.parametrize("answer", ["yes", "no", "maybe"])
def test_an_invitee_answers_with_an_optional_comment(group, member, answer):
    meeting = make_meeting(group)
    invitee = services.meeting_answer(
        actor=member, meeting=meeting, answer=answer, comment="Online"
    )
    assert (invitee.answer, invitee.comment) == (answer, "Online")
    assert invitee.answered_at == timezone.now()


def test_an_answer_must_be_yes_no_or_maybe(group, member):
    meeting = make_meeting(group)
    with pytest.raises(MeetingError):
        services.meeting_answer(actor=member, meeting=meeting, answer="perhaps")


def test_a_member_who_is_not_invited_cannot_answer(group, member):
    meeting = make_meeting(group, invitees=[coordinator_of(group)])
    with pytest.raises(MeetingError, match="not invited"):
        services.meeting_answer(actor=member, meeting=meeting, answer="yes")


def test_a_member_of_another_group_cannot_answer(group):
    meeting = make_meeting(group)
    stranger = add_member(make_group(slug="elsewhere"))
    with pytest.raises(PermissionDenied):
        services.meeting_answer(actor=stranger, meeting=meeting, answer="yes")


def test_answers_close_when_the_meeting_starts(group, member, clock):
    meeting = make_meeting(group)
    clock.move_to(meeting.starts_at)
    with pytest.raises(MeetingError, match="already started"):
        services.meeting_answer(actor=member, meeting=meeting, answer="yes")


def test_attendance_is_recorded_after_the_start_for_invitees_only(group, member, clock):
    coordinator = coordinator_of(group)
    meeting = make_meeting(group)
    with pytest.raises(MeetingError, match="once the meeting has started"):
        services.meeting_attendance_record(
            actor=coordinator, meeting=meeting, attendance={member.pk: "present"}
        )
    clock.move_to(meeting.ends_at)
    stranger = UserFactory()
    with pytest.raises(MeetingError, match="only be recorded for invitees"):
        services.meeting_attendance_record(
            actor=coordinator, meeting=meeting, attendance={stranger.pk: "present"}
        )
    with pytest.raises(MeetingError):
        services.meeting_attendance_record(
            actor=coordinator, meeting=meeting, attendance={member.pk: "asleep"}
        )
    changed = services.meeting_attendance_record(
        actor=coordinator,
        meeting=meeting,
        attendance={member.pk: "excused", coordinator.pk: "present"},
    )
    assert changed == 2
    assert dict(meeting.invitees.values_list("user_id", "attendance")) == {
        member.pk: "excused",
        coordinator.pk: "present",
    }
    with pytest.raises(PermissionDenied):
        services.meeting_attendance_record(
            actor=member, meeting=meeting, attendance={member.pk: "present"}
        )


def test_minutes_are_saved_after_the_start_and_invitees_are_told_once(group, member, clock, commit):
    coordinator = coordinator_of(group)
    meeting = make_meeting(group)
    with pytest.raises(MeetingError):
        services.meeting_minutes_save(actor=coordinator, meeting=meeting, minutes="Too early")
    clock.move_to(meeting.ends_at + timedelta(hours=1))
    with commit():
        services.meeting_minutes_save(
            actor=coordinator, meeting=meeting, minutes="1. Opening\n2. Budget"
        )
        services.meeting_minutes_save(
            actor=coordinator, meeting=meeting, minutes="1. Opening\n2. Budget, agreed"
        )
    meeting.refresh_from_db()
    assert meeting.minutes == "1. Opening\n2. Budget, agreed"
    notes = Notification.objects.filter(user=member, title__startswith="The minutes")
    assert notes.count() == 1
    assert Activity.objects.filter(verb="meeting.minutes_saved").count() == 2


# --- Date polls --------------------------------------------------------------


def test_a_poll_without_slots_is_refused(group):
    with pytest.raises(MeetingError) as caught:
        services.poll_create(
            actor=coordinator_of(group),
            group=group,
            title="Workshop",
            timezone_name="Europe/Brussels",
            closes_at=local(2027, 3, 5),
            slots=[],
        )
    assert caught.value.message_dict["slots"] == ["Propose at least one slot."]
    assert DatePoll.objects.count() == 0


def test_poll_slots_are_checked_one_by_one(group):
    with pytest.raises(MeetingError) as caught:
        make_poll(
            group,
            closes_at=local(2027, 3, 20),
            slots=[
                (local(2027, 3, 28, 2, 30), local(2027, 3, 28, 4)),  # skipped hour
                (local(2027, 3, 15, 12), local(2027, 3, 15, 10)),  # ends before it starts
                (local(2027, 3, 25, 10), local(2027, 3, 25, 12)),  # fine
                (local(2027, 3, 25, 10), local(2027, 3, 25, 12)),  # the same again
            ],
        )
    errors = caught.value.message_dict
    assert "does not exist" in errors["slot-0"][0]
    assert "end must come after" in errors["slot-1"][0]
    assert "slot-2" not in errors
    assert errors["slot-3"] == ["This slot is proposed twice."]
    assert DatePoll.objects.count() == 0 and PollSlot.objects.count() == 0


def test_voting_must_close_before_the_first_slot(group):
    with pytest.raises(MeetingError) as caught:
        make_poll(
            group,
            closes_at=local(2027, 3, 12),
            slots=[(local(2027, 3, 11, 10), local(2027, 3, 11, 12))],
        )
    assert caught.value.message_dict["slot-0"] == ["Voting must close before this slot starts."]


def test_opening_a_poll_asks_the_members(group, member, commit):
    with commit():
        poll = make_poll(group)
    assert poll.slots.count() == 3
    assert Notification.objects.filter(user=member, url=poll.get_absolute_url()).count() == 1


def test_a_member_votes_per_slot_and_can_change_the_votes(group, member):
    poll = make_poll(group)
    first, second, third = poll.slots.all()
    services.poll_vote(actor=member, poll=poll, choices={first.pk: "yes", second.pk: "if_need_be"})
    services.poll_vote(actor=member, poll=poll, choices={first.pk: "no", third.pk: "yes"})
    assert dict(PollVote.objects.filter(user=member).values_list("slot_id", "choice")) == {
        first.pk: "no",
        third.pk: "yes",
    }


def test_voting_on_a_closed_poll_is_refused(group, member, clock):
    poll = make_poll(group)
    slot = poll.slots.first()
    clock.move_to(poll.closes_at)
    with pytest.raises(MeetingError, match="closed"):
        services.poll_vote(actor=member, poll=poll, choices={slot.pk: "yes"})
    assert PollVote.objects.count() == 0


def test_voting_for_a_slot_of_another_poll_is_refused(group, member):
    poll = make_poll(group)
    other = make_poll(group, title="Another")
    with pytest.raises(MeetingError, match="not part of this poll"):
        services.poll_vote(actor=member, poll=poll, choices={other.slots.first().pk: "yes"})
    assert PollVote.objects.count() == 0


def test_voting_on_another_groups_poll_is_refused(group, member):
    other_group = make_group(slug="elsewhere")
    poll = make_poll(other_group)
    with pytest.raises(PermissionDenied):
        services.poll_vote(actor=member, poll=poll, choices={poll.slots.first().pk: "yes"})


def test_an_invalid_vote_value_is_refused(group, member):
    poll = make_poll(group)
    with pytest.raises(MeetingError):
        services.poll_vote(actor=member, poll=poll, choices={poll.slots.first().pk: "whenever"})


def test_closing_a_poll_schedules_the_chosen_slot_with_invitations_in_one_step(
    group, member, commit
):
    poll = make_poll(group, place="Lisbon office", online_url="https://meet.example.org/ws")
    chosen = poll.slots.all()[1]
    with commit():
        meeting = services.poll_close(actor=coordinator_of(group), poll=poll, slot_id=chosen.pk)
    poll.refresh_from_db()
    assert poll.state == DatePoll.State.DECIDED
    assert poll.meeting == meeting
    assert (meeting.starts_at, meeting.ends_at) == (chosen.starts_at, chosen.ends_at)
    assert (meeting.title, meeting.place, meeting.online_url, meeting.timezone) == (
        "Autumn workshop",
        "Lisbon office",
        "https://meet.example.org/ws",
        "Europe/Brussels",
    )
    assert invited(meeting) == {coordinator_of(group).pk, member.pk}
    assert len(mail.outbox) == 2
    assert all(m.attachments[0].filename == "invite.ics" for m in mail.outbox)
    with pytest.raises(MeetingError, match="already been decided"):
        services.poll_close(actor=coordinator_of(group), poll=poll, slot_id=chosen.pk)
    assert Meeting.objects.count() == 1


def test_closing_with_a_slot_of_another_poll_is_refused(group):
    poll = make_poll(group)
    other = make_poll(group, title="Another")
    with pytest.raises(MeetingError) as caught:
        services.poll_close(actor=coordinator_of(group), poll=poll, slot_id=other.slots.first().pk)
    assert "slot" in caught.value.message_dict
    assert Meeting.objects.count() == 0


def test_a_slot_that_has_passed_cannot_become_a_meeting(group, clock):
    poll = make_poll(group)
    first = poll.slots.first()
    clock.move_to(first.starts_at + timedelta(minutes=5))
    with pytest.raises(MeetingError) as caught:
        services.poll_close(actor=coordinator_of(group), poll=poll, slot_id=first.pk)
    assert "already passed" in caught.value.message_dict["slot"][0]
    poll.refresh_from_db()
    assert poll.state == DatePoll.State.OPEN
    assert Meeting.objects.count() == 0


def test_members_cannot_close_a_poll(group, member):
    poll = make_poll(group)
    with pytest.raises(PermissionDenied):
        services.poll_close(actor=member, poll=poll, slot_id=poll.slots.first().pk)


def test_a_poll_can_be_cancelled_once(group):
    poll = make_poll(group)
    services.poll_cancel(actor=coordinator_of(group), poll=poll)
    with pytest.raises(MeetingError):
        services.poll_cancel(actor=coordinator_of(group), poll=poll)


# --- Calendar feed ---------------------------------------------------------


def test_regenerating_the_feed_replaces_its_secret(member):
    first = services.calendar_feed_of(user=member).token
    assert services.calendar_feed_of(user=member).token == first
    second = services.calendar_feed_regenerate(user=member).token
    assert second != first and len(second) >= 40
