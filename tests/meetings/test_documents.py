"""The agenda and the minutes as documents of the group (linked from the documents app)."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from documents.models import Document
from meetings import services
from meetings.models import Meeting
from meetings.services import MeetingError
from tests.groups.factories import coordinator_of, make_group

from .factories import make_meeting

pytestmark = pytest.mark.django_db


def document_of(group, title="Agenda, spring plenary", **kwargs) -> Document:
    return Document.objects.create(
        group=group,
        title=title,
        updated_at=timezone.now(),
        created_by=coordinator_of(group),
        **kwargs,
    )


def test_the_agenda_can_be_a_document_of_the_group(client, group, member, commit):
    agenda = document_of(group)
    with commit():
        meeting = make_meeting(group, agenda_document=agenda)
    assert meeting.agenda_document == agenda
    (message,) = [m for m in mail.outbox if m.to == [member.email]]
    event = Calendar.from_ical(message.attachments[0].content).events[0]
    assert agenda.get_absolute_url() in str(event["DESCRIPTION"])
    client.force_login(member)
    html = client.get(meeting.get_absolute_url()).content.decode()
    assert f'href="{agenda.get_absolute_url()}"' in html


@pytest.mark.parametrize("where", ["other group", "bin"])
def test_a_document_of_another_group_or_in_the_bin_is_refused(group, where):
    if where == "other group":
        document = document_of(make_group(slug="elsewhere"))
    else:
        document = document_of(group, binned_at=timezone.now())
    with pytest.raises(MeetingError) as caught:
        make_meeting(group, agenda_document=document)
    assert caught.value.message_dict["agenda_document"] == ["Choose a document of this group."]
    assert Meeting.objects.count() == 0


def test_a_forged_document_id_in_the_form_is_refused_at_the_field(client, group):
    foreign = document_of(make_group(slug="elsewhere"))
    client.force_login(coordinator_of(group))
    response = client.post(
        reverse("meetings:schedule", kwargs={"slug": group.slug}),
        {
            "title": "Plenary",
            "starts_at": "2027-03-10T10:00",
            "ends_at": "2027-03-10T12:00",
            "timezone": "Europe/Brussels",
            "invite": "all",
            "agenda_document": foreign.pk,
        },
    )
    assert response.status_code == HTTPStatus.OK
    assert response.context["form"].errors["agenda_document"] == [
        "Choose a document of this group."
    ]
    assert Meeting.objects.count() == 0


def test_changing_the_agenda_document_raises_the_sequence(group, member):
    meeting = make_meeting(group)
    updated = services.meeting_update(
        actor=coordinator_of(group),
        meeting=meeting,
        title=meeting.title,
        starts_at=meeting.starts_at,
        ends_at=meeting.ends_at,
        timezone_name=meeting.timezone,
        agenda_document=document_of(group),
    )
    assert updated.sequence == 1


def test_the_minutes_can_be_a_document_and_members_read_the_link(client, group, member, clock):
    meeting = make_meeting(group)
    clock.move_to(meeting.ends_at + timedelta(hours=2))
    minutes = document_of(group, title="Minutes, spring plenary")
    client.force_login(coordinator_of(group))
    response = client.post(
        reverse("meetings:minutes", kwargs={"slug": group.slug, "pk": meeting.pk}),
        {"minutes": "", "minutes_document": minutes.pk},
    )
    assert response.status_code == HTTPStatus.FOUND
    meeting.refresh_from_db()
    assert meeting.minutes_document == minutes
    client.force_login(member)
    html = client.get(meeting.get_absolute_url()).content.decode()
    assert "Minutes, spring plenary" in html
    assert f'href="{minutes.get_absolute_url()}"' in html


def test_minutes_from_another_groups_document_are_refused(group, clock):
    meeting = make_meeting(group)
    clock.move_to(meeting.ends_at)
    with pytest.raises(MeetingError) as caught:
        services.meeting_minutes_save(
            actor=coordinator_of(group),
            meeting=meeting,
            minutes="",
            minutes_document=document_of(make_group(slug="elsewhere")),
        )
    assert "minutes_document" in caught.value.message_dict
    meeting.refresh_from_db()
    assert meeting.minutes_document is None
