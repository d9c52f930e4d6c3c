"""People's data rights: take all of one's data, and delete one's account."""

import csv
import io
import json
import zipfile
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from accounts import personal_data
from accounts.models import PersonalExport, User
from accounts.personal_data import PersonalDataError
from groups import chat, services
from groups.models import ArchivePackage, ChatMessage, Membership
from meetings import services as meeting_services
from portal.models import Activity, Notification
from portal.packaging import verify_package
from tests.conftest import TOTP_SECRET, make_secretariat
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-Password-2026"
BRUSSELS = ZoneInfo("Europe/Brussels")


@pytest.fixture
def person(django_capture_on_commit_callbacks):
    """Ana, a member who chatted, uploaded, answered a meeting invitation."""
    ana = UserFactory(full_name="Ana Lima", organisation="DGRSP", country="PT", bio="Probation.")
    ana.set_password(PASSWORD)
    ana.save()
    group = make_group(slug="em", name="Electronic monitoring")
    add_member(group, ana)
    with django_capture_on_commit_callbacks(execute=True):
        chat.chat_message_post(actor=ana, group=group, body="Olá a todos")
        document = upload_document(group, ana, name="plan.pdf")
        meeting = meeting_services.meeting_schedule(
            actor=coordinator_of(group),
            group=group,
            title="Plenary",
            starts_at=(timezone.now() + timedelta(days=5)).replace(tzinfo=None, microsecond=0),
            ends_at=(timezone.now() + timedelta(days=5, hours=2)).replace(
                tzinfo=None, microsecond=0
            ),
            timezone_name="UTC",
        )
        meeting_services.meeting_answer(actor=ana, meeting=meeting, answer="yes", comment="Sim")
    return {"user": ana, "group": group, "document": document, "meeting": meeting}


def export_zip(export) -> tuple[zipfile.ZipFile, str]:
    data = default_storage.open(export.storage_key).read()
    zf = zipfile.ZipFile(io.BytesIO(data))
    top = zf.namelist()[0].split("/")[0] + "/"
    return zf, top


def rows(zf, name) -> list[dict]:
    return list(csv.DictReader(io.StringIO(zf.read(name).decode("utf-8-sig"))))


# --- Export ------------------------------------------------------------------


def test_the_export_holds_everything_about_the_person(person, django_capture_on_commit_callbacks):
    ana = person["user"]
    with django_capture_on_commit_callbacks(execute=True):
        export = personal_data.personal_export_request(actor=ana)
    export.refresh_from_db()
    assert export.state == "ready"
    assert export.expires_at > timezone.now()
    zf, top = export_zip(export)

    profile = json.loads(zf.read(top + "profile.json"))
    assert (profile["full_name"], profile["organisation"], profile["country"]) == (
        "Ana Lima",
        "DGRSP",
        "PT",
    )
    assert profile["email_addresses"][0]["email"] == ana.email
    (membership,) = rows(zf, top + "memberships.csv")
    assert (membership["group"], membership["state"]) == ("Electronic monitoring", "active")
    (message,) = rows(zf, top + "chat-messages.csv")
    assert message["text"] == "Olá a todos"
    (upload,) = rows(zf, top + "uploads.csv")
    assert upload["sha256"] == person["document"].current_version.sha256
    (answer,) = rows(zf, top + "meeting-answers.csv")
    assert (answer["meeting"], answer["answer"], answer["comment"]) == ("Plenary", "yes", "Sim")
    assert verify_package(storage_key=export.storage_key, sha256=export.sha256).ok
    note = Notification.objects.get(user=ana, category="account")
    assert note.url == reverse("accounts:my_data")


def test_the_export_holds_nothing_of_other_people(person, django_capture_on_commit_callbacks):
    other = add_member(person["group"], UserFactory(full_name="Bruno Costa"))
    with django_capture_on_commit_callbacks(execute=True):
        chat.chat_message_post(actor=other, group=person["group"], body="Bruno's own words")
        export = personal_data.personal_export_request(actor=person["user"])
    export.refresh_from_db()
    zf, top = export_zip(export)
    everything = b"".join(zf.read(name) for name in zf.namelist())
    assert b"Bruno" not in everything


def test_one_export_at_a_time(person):
    personal_data.personal_export_request(actor=person["user"])
    with pytest.raises(PersonalDataError):
        personal_data.personal_export_request(actor=person["user"])
    assert PersonalExport.objects.count() == 1


def test_a_second_delivery_of_the_export_task_does_nothing(
    person, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = personal_data.personal_export_request(actor=person["user"])
    assert personal_data.personal_export_build(export_id=export.pk) is False


def test_exports_expire_and_their_files_go(person, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        export = personal_data.personal_export_request(actor=person["user"])
    export.refresh_from_db()
    key = export.storage_key
    assert personal_data.personal_exports_expire() == 0
    later = timezone.now() + timedelta(days=8)
    assert personal_data.personal_exports_expire(now=later) == 1
    export.refresh_from_db()
    assert export.state == "expired" and export.storage_key is None
    assert not default_storage.exists(key)


def test_the_data_page_requests_and_downloads_the_export(
    client, person, django_capture_on_commit_callbacks
):
    client.force_login(person["user"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:my_data_export"))
    assert response.status_code == HTTPStatus.FOUND
    export = PersonalExport.objects.get()
    page = client.get(reverse("accounts:my_data")).content.decode()
    download = reverse("accounts:my_data_download", args=[export.pk])
    assert download in page
    response = client.get(download)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Disposition"].startswith("attachment;")
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).testzip() is None


def test_nobody_downloads_someone_elses_export(client, person, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        export = personal_data.personal_export_request(actor=person["user"])
    url = reverse("accounts:my_data_download", args=[export.pk])
    assert client.get(url)["Location"].startswith(reverse("account_login"))
    for intruder in (UserFactory(), make_secretariat(UserFactory())):
        client.force_login(intruder)
        assert client.get(url).status_code == HTTPStatus.NOT_FOUND


# --- Deletion ----------------------------------------------------------------


def test_deleting_an_account_anonymises_it_and_keeps_group_records_consistent(person):
    ana = person["user"]
    Authenticator.objects.create(user=ana, type="totp", data={"secret": TOTP_SECRET})
    Activity.objects.create(actor=ana, verb="x", summary="Ana Lima asked to join", group=None)
    personal_data.account_delete(actor=ana, user=ana, password=PASSWORD)

    ana = User.objects.get(pk=ana.pk)
    assert ana.deleted_at is not None and not ana.is_active
    assert (ana.full_name, ana.organisation, ana.bio, str(ana.country)) == ("", "", "", "")
    assert ana.email.endswith("@deleted.invalid") and not ana.has_usable_password()
    assert str(ana) == "Former member"
    assert not EmailAddress.objects.filter(user=ana).exists()
    assert not Authenticator.objects.filter(user=ana).exists()
    assert not Notification.objects.filter(user=ana).exists()
    # The group's records stay, pointing at "Former member".
    message = ChatMessage.objects.get(group=person["group"])
    assert message.author_id == ana.pk and message.body == "Olá a todos"
    assert chat.message_payload(message)["author"]["name"] == "Former member"
    assert person["document"].current_version.uploaded_by_id == ana.pk
    membership = Membership.objects.get(user=ana, group=person["group"])
    assert (membership.state, membership.end_reason) == ("left", "account deleted")
    # Upcoming meetings no longer list the person; their name is gone from summaries.
    assert not person["meeting"].invitees.filter(user=ana).exists()
    assert not Activity.objects.filter(summary__contains="Ana Lima").exists()
    assert Activity.objects.filter(verb="account.deleted").exists()


def test_the_room_and_document_pages_show_former_member(client, person):
    ana = person["user"]
    personal_data.account_delete(actor=ana, user=ana, password=PASSWORD)
    reader = add_member(person["group"])
    client.force_login(reader)
    room = client.get(reverse("groups:chat", args=["em"])).content.decode()
    assert "Former member" in room and "Ana Lima" not in room
    page = client.get(person["document"].get_absolute_url()).content.decode()
    assert "Former member" in page and "Ana Lima" not in page


def test_a_deleted_person_cannot_sign_in_again(client, person):
    ana = person["user"]
    email = ana.email
    client.force_login(ana)
    personal_data.account_delete(actor=ana, user=ana, password=PASSWORD)
    # The old session is dead and the old credentials lead nowhere.
    assert client.get(reverse("dashboard")).status_code == HTTPStatus.FOUND
    assert not client.login(email=email, password=PASSWORD)


def test_the_last_coordinator_of_a_working_group_cannot_delete_the_account(person):
    coordinator = coordinator_of(person["group"])
    coordinator.set_password(PASSWORD)
    coordinator.save()
    with pytest.raises(PersonalDataError, match="only coordinator of “Electronic monitoring”"):
        personal_data.account_delete(actor=coordinator, user=coordinator, password=PASSWORD)
    coordinator.refresh_from_db()
    assert coordinator.is_active and coordinator.deleted_at is None
    assert Membership.objects.filter(user=coordinator, state="active").exists()


def test_a_wrong_password_deletes_nothing(person):
    ana = person["user"]
    with pytest.raises(PersonalDataError):
        personal_data.account_delete(actor=ana, user=ana, password="guess")
    ana.refresh_from_db()
    assert ana.is_active and ana.full_name == "Ana Lima"


def test_nobody_deletes_someone_elses_account(person):
    from django.core.exceptions import PermissionDenied

    staff = make_secretariat(UserFactory())
    with pytest.raises(PermissionDenied):
        personal_data.account_delete(actor=staff, user=person["user"], password=PASSWORD)


def test_the_delete_form_shows_errors_at_the_form_and_keeps_the_account(client, person):
    client.force_login(person["user"])
    response = client.post(
        reverse("accounts:account_delete"), {"password": "guess", "confirm": "on"}
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "The password is not correct." in response.content.decode()
    response = client.post(reverse("accounts:account_delete"), {"password": PASSWORD})
    assert response.status_code == HTTPStatus.BAD_REQUEST  # the confirmation box is required
    person["user"].refresh_from_db()
    assert person["user"].is_active

    response = client.post(
        reverse("accounts:account_delete"), {"password": PASSWORD, "confirm": "on"}
    )
    assert response.status_code == HTTPStatus.FOUND
    person["user"].refresh_from_db()
    assert person["user"].deleted_at is not None


def test_an_archived_groups_package_survives_a_deleted_account(
    person, django_capture_on_commit_callbacks
):
    group = person["group"]
    staff = make_secretariat(UserFactory())
    moment = datetime.combine(date.today() + timedelta(days=800), time(9), tzinfo=BRUSSELS)
    with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks(execute=True):
        from groups.selectors import group_for_viewer

        services.group_archive(actor=staff, group=group_for_viewer(slug="em"))
    before = ArchivePackage.objects.get(group=group, state="ready")

    ana = person["user"]
    personal_data.account_delete(actor=ana, user=ana, password=PASSWORD)
    assert verify_package(storage_key=before.storage_key, sha256=before.sha256).ok

    with time_machine.travel(moment, tick=False), django_capture_on_commit_callbacks(execute=True):
        from groups.archive import archive_package_request

        archive_package_request(actor=staff, group=group)
    after = ArchivePackage.objects.get(group=group, state="ready")
    zf = zipfile.ZipFile(io.BytesIO(default_storage.open(after.storage_key).read()))
    transcript = zf.read("em-archive/chat/transcript.txt").decode()
    assert "Former member: Olá a todos" in transcript and "Ana Lima" not in transcript
    assert verify_package(storage_key=after.storage_key, sha256=after.sha256).ok
