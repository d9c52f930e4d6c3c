"""Someone who becomes a member after an "all members" meeting was scheduled is invited too."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core import mail
from icalendar import Calendar

from groups import services as group_services
from groups.models import Membership
from meetings import services
from meetings.models import Invitee, Meeting
from meetings.tasks import scan_meeting_reminders
from portal.models import Reminder
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of

from .factories import BRUSSELS, local, make_meeting

pytestmark = pytest.mark.django_db

#: Wednesday 10 March 2027, 10:00–12:00 in Brussels (the clock stands at 1 March).
START = datetime(2027, 3, 10, 10, 0, tzinfo=BRUSSELS)


def mails_to(user) -> list:
    return [m for m in mail.outbox if m.to == [user.email]]


def calendar_of(message) -> Calendar:
    (attachment,) = [a for a in message.attachments if a.filename == "invite.ics"]
    return Calendar.from_ical(attachment.content)


def attendees(event) -> set[str]:
    values = event.get("ATTENDEE", [])
    values = values if isinstance(values, list) else [values]
    return {str(v).removeprefix("mailto:") for v in values}


def approve_newcomer(group, commit, newcomer=None):
    newcomer = newcomer or UserFactory(full_name="Nora Newcomer")
    request = group_services.membership_request(
        actor=newcomer, group=group, motivation="I run the probation statistics unit."
    )
    with commit():
        group_services.membership_approve(actor=coordinator_of(group), membership=request)
    return newcomer


@pytest.fixture
def meeting(group, member, commit):
    with commit():
        meeting = make_meeting(group, starts_at=START, ends_at=START + timedelta(hours=2))
    mail.outbox.clear()
    return meeting


def test_a_member_approved_after_scheduling_is_invited_and_gets_a_calendar_invitation(
    group, member, meeting, commit
):
    newcomer = approve_newcomer(group, commit)

    assert Invitee.objects.filter(meeting=meeting, user=newcomer).exists()
    invitations = [m for m in mails_to(newcomer) if "Invitation: Spring plenary" in m.subject]
    assert len(invitations) == 1
    cal = calendar_of(invitations[0])
    assert cal["METHOD"] == "REQUEST"
    (event,) = cal.events
    assert str(event["UID"]) == meeting.uid
    assert event["SEQUENCE"] == 0
    assert event.DTSTART == START
    assert attendees(event) == {coordinator_of(group).email, member.email, newcomer.email}
    # Joining is not a change of the meeting: nobody else is e-mailed about it.
    assert {m.to[0] for m in mail.outbox} == {newcomer.email}
    meeting.refresh_from_db()
    assert meeting.sequence == 0


def test_the_late_member_can_answer_and_is_reminded(group, member, meeting, commit):
    newcomer = approve_newcomer(group, commit)
    invitee = services.meeting_answer(actor=newcomer, meeting=meeting, answer="yes")
    assert invitee.answer == "yes"

    moment = START - timedelta(hours=1)
    with time_machine.travel(moment, tick=False), commit():
        scan_meeting_reminders.delay().get()
    assert Reminder.objects.filter(
        subject_type="meeting", subject_id=meeting.pk, recipient=newcomer, sent_at__isnull=False
    ).exists()
    assert [m for m in mails_to(newcomer) if "Reminder: Spring plenary" in m.subject]


def test_past_cancelled_started_and_chosen_invitee_meetings_are_left_alone(
    group, member, clock, commit
):
    coordinator = coordinator_of(group)
    soon = make_meeting(group, title="Soon", starts_at=local(2027, 3, 2, 10))
    make_meeting(group, title="Ongoing", starts_at=local(2027, 3, 3, 8))
    cancelled = make_meeting(group, title="Called off", starts_at=local(2027, 3, 12, 10))
    services.meeting_cancel(actor=coordinator, meeting=cancelled, reason="No room.")
    chosen = make_meeting(group, title="Board only", invitees=[coordinator, member])
    open_to_all = make_meeting(group, title="Open to all", starts_at=local(2027, 3, 20, 10))
    # Wednesday 3 March, 09:00: "Soon" is over and "Ongoing" has started.
    clock.move_to(datetime(2027, 3, 3, 9, 0, tzinfo=BRUSSELS))
    assert soon.ends_at < datetime(2027, 3, 3, 9, 0, tzinfo=BRUSSELS)
    mail.outbox.clear()

    newcomer = approve_newcomer(group, commit)

    invited = set(Meeting.objects.filter(invitees__user=newcomer).values_list("title", flat=True))
    assert invited == {"Open to all"}
    assert len(mails_to(newcomer)) == 2  # the welcome and one invitation
    assert chosen.invitees.count() == 2
    assert Meeting.objects.get(pk=open_to_all.pk).sequence == 0


def test_joining_by_invitation_invites_to_the_upcoming_meetings(group, member, meeting, commit):
    invitation = group_services.invitation_create(
        actor=coordinator_of(group), group=group, email="guest@example.org"
    )
    guest = UserFactory(email="guest@example.org")
    with commit():
        group_services.invitation_accept(actor=guest, invitation=invitation)
    assert Invitee.objects.filter(meeting=meeting, user=guest).exists()
    assert [m for m in mails_to(guest) if "Invitation: Spring plenary" in m.subject]


def test_a_coordinator_appointed_from_outside_is_invited(
    group, member, meeting, commit, secretariat_user
):
    outsider = UserFactory()
    with commit():
        group_services.coordinator_appoint(actor=secretariat_user, group=group, user=outsider)
    assert Invitee.objects.filter(meeting=meeting, user=outsider).exists()
    assert [m for m in mails_to(outsider) if "Invitation: Spring plenary" in m.subject]


def test_a_member_who_changes_role_is_not_invited_twice(group, member, meeting, commit):
    membership = Membership.objects.get(user=member, group=group, state="active")
    with commit():
        group_services.membership_set_role(
            actor=coordinator_of(group), membership=membership, role="coordinator"
        )
    assert Invitee.objects.filter(meeting=meeting, user=member).count() == 1
    assert not [m for m in mails_to(member) if "Invitation:" in m.subject]


def test_a_member_who_rejoins_keeps_the_invitation_they_had(group, member, meeting, commit):
    services.meeting_answer(actor=member, meeting=meeting, answer="maybe")
    group_services.membership_leave(actor=member, group=group)
    approve_newcomer(group, commit, newcomer=member)
    (invitee,) = Invitee.objects.filter(meeting=meeting, user=member)
    assert invitee.answer == "maybe"
    assert not [m for m in mails_to(member) if "Invitation:" in m.subject]


def test_the_service_invites_once_however_often_it_runs(group, meeting, commit):
    late = add_member(group)  # a membership written directly, as an import would
    with commit():
        first = services.meeting_invitations_for_new_member(user=late, group=group)
        again = services.meeting_invitations_for_new_member(user=late, group=group)
    assert [m.pk for m in first] == [meeting.pk]
    assert again == []
    assert len(mails_to(late)) == 1
