"""The main pages of the portal and a world to show them: shared by the accessibility
(axe-core, in the browser) and HTML validation (Nu HTML Checker) tests."""

from datetime import timedelta

from django.utils import timezone

from documents.models import Document
from groups import chat, services
from groups.selectors import group_for_viewer
from meetings import services as meeting_services
from tests.conftest import make_secretariat
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group


def main_pages_world() -> dict:
    """A group with people, a document, a meeting, a poll and chat; an archived group."""
    staff = make_secretariat(UserFactory(full_name="Sam Secretariat"))
    group = make_group(slug="em", name="Electronic monitoring", actor=staff)
    coordinator = coordinator_of(group)
    member = add_member(group, UserFactory(full_name="Ana Lima"))
    document = upload_document(group, member, name="guidelines.pdf", keywords="monitoring")
    chat.chat_message_post(actor=member, group=group, body="Hello, see https://example.org")
    start = (timezone.now() + timedelta(days=10)).replace(microsecond=0, second=0, minute=0)
    meeting = meeting_services.meeting_schedule(
        actor=coordinator,
        group=group,
        title="Plenary",
        agenda="1. Welcome",
        starts_at=start.replace(tzinfo=None),
        ends_at=(start + timedelta(hours=2)).replace(tzinfo=None),
        timezone_name="Europe/Brussels",
    )
    slot = start.replace(tzinfo=None) + timedelta(days=5)
    poll = meeting_services.poll_create(
        actor=coordinator,
        group=group,
        title="Autumn workshop",
        timezone_name="Europe/Brussels",
        closes_at=start.replace(tzinfo=None) + timedelta(days=2),
        slots=[
            (slot, slot + timedelta(hours=2)),
            (slot + timedelta(days=1), slot + timedelta(days=1, hours=2)),
        ],
    )
    past = make_group(slug="past", name="Past group", actor=staff)
    services.group_close(actor=staff, group=group_for_viewer(slug="past"), reason="Done.")
    services.group_archive(actor=staff, group=group_for_viewer(slug="past"))
    return {
        "staff": staff,
        "coordinator": coordinator,
        "member": member,
        "group": group,
        "document": document,
        "meeting": meeting,
        "poll": poll,
        "past": past,
    }


def main_pages(world) -> list[tuple[str, str, str]]:
    """(name, persona, path) of every main page."""
    doc: Document = world["document"]
    return [
        ("home", "anonymous", "/"),
        ("login", "anonymous", "/accounts/login/"),
        ("signup", "anonymous", "/accounts/signup/"),
        ("password-reset", "anonymous", "/accounts/password/reset/"),
        ("public-group", "anonymous", world["group"].get_public_url()),
        ("dashboard", "member", "/dashboard/"),
        ("notifications", "member", "/notifications/"),
        ("notification-settings", "member", "/notifications/settings/"),
        ("profile", "member", "/people/profile/"),
        ("profile-edit", "member", "/people/profile/edit/"),
        ("my-data", "member", "/people/me/data/"),
        ("directory", "member", "/people/directory/"),
        ("mfa", "member", "/accounts/2fa/"),
        ("group", "member", world["group"].get_absolute_url()),
        ("members", "coordinator", f"/g/{world['group'].slug}/members/"),
        ("activity", "member", f"/g/{world['group'].slug}/activity/"),
        ("chat", "member", f"/g/{world['group'].slug}/chat/"),
        ("documents", "member", f"/g/{world['group'].slug}/documents/"),
        ("document", "member", doc.get_absolute_url()),
        ("upload", "member", f"/g/{world['group'].slug}/documents/upload/"),
        ("meetings", "member", f"/g/{world['group'].slug}/meetings/"),
        ("meeting", "coordinator", world["meeting"].get_absolute_url()),
        ("poll", "member", world["poll"].get_absolute_url()),
        ("schedule", "coordinator", f"/g/{world['group'].slug}/meetings/new/"),
        ("my-meetings", "member", "/meetings/"),
        ("calendar", "member", "/meetings/calendar/"),
        ("feed", "member", "/meetings/feed/"),
        ("bin", "coordinator", f"/g/{world['group'].slug}/documents/bin/"),
        ("extension", "coordinator", f"/g/{world['group'].slug}/extension/"),
        ("secretariat", "staff", "/secretariat/"),
        ("overview", "staff", "/secretariat/overview/"),
        ("audit", "staff", "/secretariat/audit/"),
        ("create-group", "staff", "/secretariat/groups/new/"),
        ("archived-group", "staff", world["past"].get_absolute_url()),
        ("archive-package", "staff", f"/g/{world['past'].slug}/package/"),
    ]
