"""Retention: chat of archived groups and documents left in a bin go after the set time."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.storage import default_storage

from documents.models import Document
from documents.services import document_bin
from groups import chat, services
from groups.models import ChatMessage
from portal.models import Activity
from portal.tasks import enforce_retention
from tests.conftest import make_secretariat
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
START = date(2026, 1, 10)


def on(day: date):
    return time_machine.travel(datetime.combine(day, time(9), tzinfo=BRUSSELS), tick=False)


@pytest.fixture
def archived_group(django_capture_on_commit_callbacks):
    """A group with chat, archived on 11 January 2028."""
    with on(START):
        group = make_group(start=START, slug="past")
        member = add_member(group)
        chat.chat_message_post(actor=member, group=group, body="First")
        chat.chat_message_post(actor=member, group=group, body="Second")
    with on(date(2028, 1, 11)), django_capture_on_commit_callbacks(execute=True):
        from groups.selectors import group_for_viewer

        services.group_archive(
            actor=make_secretariat(UserFactory()), group=group_for_viewer(slug="past")
        )
    return group


def test_chat_of_an_archived_group_is_deleted_after_the_retention_period(archived_group, settings):
    settings.CHAT_RETENTION_DAYS = 365
    live = make_group(slug="live")
    chat.chat_message_post(actor=add_member(live), group=live, body="Still here")

    with on(date(2029, 1, 9)):  # 2028 has 366 days: one day short of 365 days later
        assert chat.chat_retention_enforce() == 0
    with on(date(2029, 1, 12)):
        assert chat.chat_retention_enforce() == 2
        assert chat.chat_retention_enforce() == 0  # once
    assert not ChatMessage.objects.filter(group=archived_group).exists()
    assert ChatMessage.objects.filter(group=live).count() == 1
    (record,) = Activity.objects.filter(verb="chat.retention_deleted")
    assert (record.group, record.data["messages"]) == (archived_group, 2)


def test_chat_is_kept_for_ever_by_default(archived_group, settings):
    settings.CHAT_RETENTION_DAYS = 0
    with on(date(2040, 1, 1)):
        assert chat.chat_retention_enforce() == 0
    assert ChatMessage.objects.filter(group=archived_group).count() == 2


def test_documents_in_the_bin_are_purged_after_the_retention_period(
    settings, django_capture_on_commit_callbacks
):
    settings.BIN_RETENTION_DAYS = 30
    group = make_group()
    coordinator = coordinator_of(group)
    binned = upload_document(group, coordinator, name="old.pdf")
    kept = upload_document(group, coordinator, name="recent.pdf")
    live = upload_document(group, coordinator, name="live.pdf")
    key = binned.current_version.storage_key
    now = datetime.now(tz=BRUSSELS)
    with time_machine.travel(now - timedelta(days=31), tick=False):
        document_bin(actor=coordinator, document=binned)
    with time_machine.travel(now - timedelta(days=29), tick=False):
        document_bin(actor=coordinator, document=kept)

    from documents.services import bin_retention_enforce

    with django_capture_on_commit_callbacks(execute=True):
        assert bin_retention_enforce() == 1
    assert set(Document.objects.values_list("title", flat=True)) == {"recent.pdf", "live.pdf"}
    assert not default_storage.exists(key)
    assert default_storage.exists(live.current_version.storage_key)
    record = Activity.objects.get(verb="document.retention_purged")
    assert "old.pdf" in record.summary and record.data["days"] == 30


def test_the_beat_task_applies_every_rule(archived_group, settings):
    settings.CHAT_RETENTION_DAYS = 1
    settings.BIN_RETENTION_DAYS = 0
    with on(date(2028, 2, 1)):
        result = enforce_retention()
    assert result == {"chat_messages": 2, "documents": 0, "exports": 0}
