"""The archive package: built by Celery, complete, checked against its manifest."""

import csv
import hashlib
import io
import json
import zipfile
from datetime import date, datetime, time, timedelta
from http import HTTPStatus
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.urls import reverse

from groups import archive, chat, services
from groups.archive import ArchiveError
from groups.models import ArchivePackage, ExpertGroup
from groups.tasks import build_archive_package
from meetings import services as meeting_services
from portal.models import Activity, Notification
from portal.packaging import verify_package
from tests.conftest import make_secretariat
from tests.documents import samples
from tests.documents.conftest import moto_endpoint, storage  # noqa: F401 (fixtures)
from tests.documents.factories import add_version, upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, coordinator_of, make_group

pytestmark = pytest.mark.django_db

BRUSSELS = ZoneInfo("Europe/Brussels")
START = date(2026, 1, 10)
AFTER_END = date(2028, 1, 11)  # term 1 ends on 10 January 2028


def on(day: date, hour: int = 9):
    return time_machine.travel(datetime.combine(day, time(hour), tzinfo=BRUSSELS), tick=False)


@pytest.fixture
def story(django_capture_on_commit_callbacks):
    return live_story(django_capture_on_commit_callbacks)


def live_story(django_capture_on_commit_callbacks) -> dict:
    """A group lived through one term: documents, a meeting, chat, a refused extension."""
    with on(START):
        staff = make_secretariat(UserFactory(full_name="Sam Secretariat"))
        group = make_group(start=START, actor=staff, slug="em-network", name="EM network")
        coordinator = coordinator_of(group)
        member = add_member(group, UserFactory(full_name="Ana Lima", country="PT"))
        with django_capture_on_commit_callbacks(execute=True):
            report = upload_document(group, member, name="report.pdf", keywords="monitoring")
            add_version(report, coordinator, comment="Second draft")
            notes = upload_document(
                group, coordinator, name="notes.txt", content=samples.TEXT, new_folder="Minutes"
            )
            chat.chat_message_post(actor=member, group=group, body="Hello <b>all</b>")
            chat.chat_message_post(actor=coordinator, group=group, body="Welcome, @Ana Lima")
            meeting = meeting_services.meeting_schedule(
                actor=coordinator,
                group=group,
                title="Kick-off",
                agenda="1. Welcome\n2. Work plan",
                starts_at=datetime(2026, 2, 2, 10, 0),
                ends_at=datetime(2026, 2, 2, 12, 0),
                timezone_name="Europe/Lisbon",
            )
    with on(date(2026, 2, 3)), django_capture_on_commit_callbacks(execute=True):
        meeting_services.meeting_attendance_record(
            actor=coordinator,
            meeting=meeting,
            attendance={member.pk: "present", coordinator.pk: "excused"},
        )
        meeting_services.meeting_minutes_save(
            actor=coordinator,
            meeting=meeting,
            minutes="We agreed on the plan.",
            minutes_document=notes,
        )
    with on(date(2027, 12, 1)), django_capture_on_commit_callbacks(execute=True):
        request = services.extension_request(
            actor=coordinator,
            group=fresh(group),
            justification="The work plan needs two more years to finish.",
        )
        services.extension_decide(
            actor=staff, request=request, approve=False, reason="The work plan is complete."
        )
    return {
        "group": group,
        "staff": staff,
        "coordinator": coordinator,
        "member": member,
        "report": report,
        "notes": notes,
        "meeting": meeting,
    }


def fresh(group) -> ExpertGroup:
    from groups.selectors import group_for_viewer

    return group_for_viewer(slug=group.slug)


def archive_it(story, capture, **kwargs) -> ArchivePackage:
    with on(AFTER_END), capture(execute=True):
        services.group_archive(actor=story["staff"], group=fresh(story["group"]), **kwargs)
    return ArchivePackage.objects.get(group=story["group"], state="ready")


def open_package(package) -> tuple[zipfile.ZipFile, str]:
    data = default_storage.open(package.storage_key).read()
    assert hashlib.sha256(data).hexdigest() == package.sha256
    archive_file = zipfile.ZipFile(io.BytesIO(data))
    return archive_file, "em-network-archive/"


def read_csv(archive_file, name) -> list[dict]:
    text = archive_file.read(name).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


# --- Contents ----------------------------------------------------------------


def test_archiving_builds_a_package_whose_every_file_matches_the_manifest(
    story, django_capture_on_commit_callbacks
):
    package = archive_it(story, django_capture_on_commit_callbacks)
    zf, top = open_package(package)
    manifest = json.loads(zf.read(top + "manifest.json"))
    listed = {item["path"]: item for item in manifest["files"]}
    names = {n[len(top) :] for n in zf.namelist()}

    assert names == set(listed) | {"manifest.json", "SHA256SUMS"}
    for path, item in listed.items():
        data = zf.read(top + path)
        assert (len(data), hashlib.sha256(data).hexdigest()) == (item["size"], item["sha256"])
    sums = zf.read(top + "SHA256SUMS").decode().splitlines()
    assert sorted(sums) == sorted(f"{i['sha256']}  {p}" for p, i in listed.items())
    assert package.file_count == len(listed)
    assert manifest["group"]["slug"] == "em-network"


def test_the_package_holds_documents_meetings_chat_mandates_members_and_activity(
    story, django_capture_on_commit_callbacks
):
    package = archive_it(story, django_capture_on_commit_callbacks)
    zf, top = open_package(package)

    # Latest version of each document, byte for byte, under its folder.
    assert zf.read(top + "documents/report-v2.pdf") == samples.PDF + b"%v2\n"
    assert zf.read(top + "documents/Minutes/notes.txt") == samples.TEXT
    assert top + "documents/report.pdf" not in zf.namelist()  # v1 only with all versions
    index = read_csv(zf, top + "documents/index.csv")
    assert {(r["title"], r["version"], r["keywords"]) for r in index} == {
        ("report.pdf", "2", "monitoring"),
        ("notes.txt", "1", ""),
    }

    meetings = read_csv(zf, top + "meetings/meetings.csv")
    (kickoff,) = meetings
    assert kickoff["title"] == "Kick-off"
    assert kickoff["starts_at_utc"] == "2026-02-02T10:00:00+00:00"  # 10:00 in Lisbon = UTC
    assert kickoff["minutes_document"] == "documents/Minutes/notes.txt"
    folder = top + kickoff["folder"] + "/"
    assert zf.read(folder + "agenda.txt").decode() == "1. Welcome\n2. Work plan\n"
    assert zf.read(folder + "minutes.txt").decode() == "We agreed on the plan.\n"
    attendance = {r["name"]: r["attendance"] for r in read_csv(zf, folder + "attendance.csv")}
    assert attendance["Ana Lima"] == "present"
    assert attendance[str(story["coordinator"])] == "excused"

    transcript = zf.read(top + "chat/transcript.txt").decode()
    assert "Ana Lima: Hello <b>all</b>" in transcript
    assert len(read_csv(zf, top + "chat/transcript.csv")) == 2

    group_json = json.loads(zf.read(top + "group.json"))
    assert group_json["mandates"] == [{"term": 1, "start": "2026-01-10", "end": "2028-01-10"}]
    (decision,) = group_json["extension_requests"]
    assert (decision["decision"], decision["reason"]) == ("refused", "The work plan is complete.")
    assert read_csv(zf, top + "extension-requests.csv")[0]["decided_by"] == "Sam Secretariat"

    members = {(r["name"], r["role"], r["state"]) for r in read_csv(zf, top + "memberships.csv")}
    assert ("Ana Lima", "member", "active") in members
    assert read_csv(zf, top + "memberships.csv")[-1]["country"] in ("PT", "")

    verbs = [r["what"] for r in read_csv(zf, top + "activity.csv")]
    assert verbs[0] == "group.created"
    assert {"group.archived", "mandate.extension_requested", "mandate.extension_refused"} <= set(
        verbs
    )

    index_html = zf.read(top + "index.html").decode()
    assert "EM network" in index_html and "sha256sum -c SHA256SUMS" in index_html
    assert 'href="documents/Minutes/notes.txt"' in index_html


def test_every_version_goes_in_when_asked(story, django_capture_on_commit_callbacks):
    package = archive_it(story, django_capture_on_commit_callbacks, include_all_versions=True)
    zf, top = open_package(package)
    assert zf.read(top + "documents/report/v1 report.pdf") == samples.PDF
    assert zf.read(top + "documents/report/v2 report-v2.pdf") == samples.PDF + b"%v2\n"
    assert package.include_all_versions


def test_binned_documents_stay_out(story, django_capture_on_commit_callbacks):
    from documents.services import document_bin

    with on(date(2027, 6, 1)):
        document_bin(actor=story["coordinator"], document=story["report"])
    zf, top = open_package(archive_it(story, django_capture_on_commit_callbacks))
    assert not [n for n in zf.namelist() if "report" in n]


def test_the_secretariat_is_told_when_the_package_is_ready(
    story, django_capture_on_commit_callbacks
):
    package = archive_it(story, django_capture_on_commit_callbacks)
    note = Notification.objects.get(user=story["staff"], title__contains="archive package")
    assert note.url == reverse("groups:archive_package", args=["em-network"])
    assert Activity.objects.filter(verb="archive.built", data__package=package.pk).exists()


# --- Integrity ---------------------------------------------------------------


def test_a_package_can_be_checked_later_and_damage_is_found(
    story, django_capture_on_commit_callbacks
):
    package = archive_it(story, django_capture_on_commit_callbacks)
    checked = archive.archive_package_verify(actor=story["staff"], package=package)
    assert checked.verified_ok is True
    assert "files match the manifest" in checked.verify_report

    # Rewrite the package with one document changed and one extra file.
    original = default_storage.open(package.storage_key).read()
    damaged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(original)) as src, zipfile.ZipFile(damaged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("notes.txt"):
                data = b"tampered"
            dst.writestr(info, data)
        dst.writestr("em-network-archive/extra.txt", b"not listed")
    default_storage.delete(package.storage_key)
    default_storage.save(package.storage_key, io.BytesIO(damaged.getvalue()))

    outcome = verify_package(storage_key=package.storage_key)  # contents alone
    assert not outcome.ok
    assert "documents/Minutes/notes.txt: content differs from the manifest" in outcome.problems
    assert "extra.txt: in the package but not in the manifest" in outcome.problems
    checked = archive.archive_package_verify(actor=story["staff"], package=package)
    assert checked.verified_ok is False
    assert "does not match the SHA-256 recorded" in checked.verify_report


def test_a_missing_package_file_is_reported(story, django_capture_on_commit_callbacks):
    package = archive_it(story, django_capture_on_commit_callbacks)
    default_storage.delete(package.storage_key)
    checked = archive.archive_package_verify(package=package)
    assert checked.verified_ok is False
    assert "missing" in checked.verify_report


# --- Bad input and faults ----------------------------------------------------


def test_an_active_group_gets_no_package(django_capture_on_commit_callbacks):
    group = make_group()
    staff = make_secretariat(UserFactory())
    with pytest.raises(ArchiveError):
        archive.archive_package_request(actor=staff, group=group)
    with pytest.raises(services.GroupError):
        services.group_archive(actor=staff, group=fresh(group))
    assert not ArchivePackage.objects.exists()


def test_only_the_secretariat_requests_a_package(story, django_capture_on_commit_callbacks):
    from django.core.exceptions import PermissionDenied

    archive_it(story, django_capture_on_commit_callbacks)
    for person in (story["coordinator"], story["member"], UserFactory()):
        with pytest.raises(PermissionDenied):
            archive.archive_package_request(actor=person, group=story["group"])


def test_two_runs_at_once_are_refused(story, django_capture_on_commit_callbacks):
    with on(AFTER_END):
        # Archive without running the queued build: the run stays queued.
        services.group_archive(actor=story["staff"], group=fresh(story["group"]))
        with pytest.raises(ArchiveError, match="being built already"):
            archive.archive_package_request(actor=story["staff"], group=story["group"])
        # The database refuses it too, whatever the code path.
        with pytest.raises(IntegrityError), transaction.atomic():
            ArchivePackage.objects.create(group=story["group"], state="running")
    assert ArchivePackage.objects.filter(group=story["group"]).count() == 1


def test_a_second_delivery_of_the_same_run_does_nothing(story, django_capture_on_commit_callbacks):
    package = archive_it(story, django_capture_on_commit_callbacks)
    keys_before = package.storage_key
    with on(AFTER_END):
        assert build_archive_package(package.pk) is False
    package.refresh_from_db()
    assert (package.state, package.storage_key, package.attempts) == ("ready", keys_before, 1)


def test_an_interrupted_run_leaves_nothing_and_can_be_run_again(
    story, django_capture_on_commit_callbacks, tmp_path, settings
):
    settings.PACKAGE_TMP_DIR = str(tmp_path / "packages")
    with on(AFTER_END):
        services.group_archive(actor=story["staff"], group=fresh(story["group"]))
        package = ArchivePackage.objects.get(group=story["group"])
        with mock.patch.object(default_storage, "save", side_effect=OSError("disk full")):
            assert archive.archive_package_build(package_id=package.pk) is False
    package.refresh_from_db()
    assert package.state == "failed" and "disk full" in package.error
    assert package.storage_key is None
    assert list((tmp_path / "packages").iterdir()) == []  # no temporary file left
    assert not default_storage.exists("archives")  # no half-stored package

    with on(AFTER_END), django_capture_on_commit_callbacks(execute=True):
        again = archive.archive_package_request(actor=story["staff"], group=story["group"])
    again.refresh_from_db()
    assert again.state == "ready"
    assert verify_package(storage_key=again.storage_key, sha256=again.sha256).ok


def test_a_damaged_stored_document_fails_the_run_instead_of_archiving_it(
    story, django_capture_on_commit_callbacks
):
    version = story["notes"].current_version
    default_storage.delete(version.storage_key)
    default_storage.save(version.storage_key, io.BytesIO(b"X" * version.size))
    with on(AFTER_END), django_capture_on_commit_callbacks(execute=True):
        services.group_archive(actor=story["staff"], group=fresh(story["group"]))
    package = ArchivePackage.objects.get(group=story["group"])
    assert package.state == "failed"
    assert "does not match its recorded SHA-256" in package.error


def test_a_run_whose_worker_died_is_taken_over(story, django_capture_on_commit_callbacks):
    with on(AFTER_END):
        services.group_archive(actor=story["staff"], group=fresh(story["group"]))
        package = ArchivePackage.objects.get(group=story["group"])
        ArchivePackage.objects.filter(pk=package.pk).update(
            state="running", heartbeat_at=package.created_at, attempts=1
        )
        # While the run may still be alive, nobody else takes it.
        assert archive.archive_package_build(package_id=package.pk) is False
    later = datetime.combine(AFTER_END, time(10), tzinfo=BRUSSELS)
    with time_machine.travel(later, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert archive.archive_packages_resume() == 1  # beat queues it again
    package.refresh_from_db()
    assert (package.state, package.attempts) == ("ready", 2)


def test_building_again_replaces_the_package_and_deletes_the_old_file(
    story, django_capture_on_commit_callbacks
):
    first = archive_it(story, django_capture_on_commit_callbacks)
    with on(AFTER_END + timedelta(days=1)), django_capture_on_commit_callbacks(execute=True):
        archive.archive_package_request(
            actor=story["staff"], group=story["group"], include_all_versions=True
        )
    first.refresh_from_db()
    second = archive.current_package(story["group"])
    assert first.state == "superseded" and second.pk != first.pk
    assert not default_storage.exists(first.storage_key)
    assert default_storage.exists(second.storage_key)


def test_a_package_on_object_storage_is_complete_and_verifiable(
    storage,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    """The same run on the local disk and on an S3-compatible endpoint (moto's server)."""
    story = live_story(django_capture_on_commit_callbacks)
    package = archive_it(story, django_capture_on_commit_callbacks)
    assert package.storage_key.startswith(f"archives/{story['group'].pk}/")
    assert package.storage_key in storage.keys(settings_module())
    zf, top = open_package(package)
    assert zf.read(top + "documents/Minutes/notes.txt") == samples.TEXT
    assert verify_package(storage_key=package.storage_key, sha256=package.sha256).ok


def settings_module():
    from django.conf import settings

    return settings


# --- Pages -------------------------------------------------------------------


@pytest.fixture
def archived(story, django_capture_on_commit_callbacks):
    story["package"] = archive_it(story, django_capture_on_commit_callbacks)
    return story


def test_the_package_page_shows_the_package_and_its_download(client, archived):
    client.force_login(archived["staff"])
    page = client.get(reverse("groups:archive_package", args=["em-network"]))
    assert page.status_code == HTTPStatus.OK
    download = reverse(
        "groups:archive_package_download", args=["em-network", archived["package"].pk]
    )
    assert download in page.content.decode()

    response = client.get(download)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    body = b"".join(response.streaming_content)
    assert hashlib.sha256(body).hexdigest() == archived["package"].sha256


def test_the_progress_panel_polls_while_a_package_is_built(client, story):
    with on(AFTER_END):
        services.group_archive(actor=story["staff"], group=fresh(story["group"]))
    ArchivePackage.objects.update(state="running", files_total=4, files_done=1)
    client.force_login(story["staff"])
    panel = client.get(reverse("groups:archive_package_status", args=["em-network"]))
    html = panel.content.decode()
    assert 'data-hx-trigger="every 2s"' in html
    assert 'value="25"' in html and "1 of 4 files" in html


def test_rebuild_and_check_from_the_page(client, archived, django_capture_on_commit_callbacks):
    client.force_login(archived["staff"])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("groups:archive_package_check", args=["em-network", archived["package"].pk])
        )
    assert response.status_code == HTTPStatus.FOUND
    archived["package"].refresh_from_db()
    assert archived["package"].verified_ok is True

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("groups:archive_package_rebuild", args=["em-network"]),
            {"include_all_versions": "on"},
        )
    assert archive.current_package(archived["group"]).include_all_versions


@pytest.mark.parametrize("who", ["anonymous", "outsider", "member", "coordinator"])
def test_nobody_but_the_secretariat_reaches_a_package(client, archived, who):
    if who == "outsider":
        client.force_login(UserFactory())
    elif who != "anonymous":
        client.force_login(archived[who])
    pk = archived["package"].pk
    for name, args, method in [
        ("groups:archive_package", ["em-network"], "get"),
        ("groups:archive_package_status", ["em-network"], "get"),
        ("groups:archive_package_download", ["em-network", pk], "get"),
        ("groups:archive_package_rebuild", ["em-network"], "post"),
        ("groups:archive_package_check", ["em-network", pk], "post"),
    ]:
        response = getattr(client, method)(reverse(name, args=args))
        if who == "anonymous":
            assert response.status_code == HTTPStatus.FOUND
            assert response["Location"].startswith(reverse("account_login"))
        else:
            assert response.status_code in (HTTPStatus.FORBIDDEN, HTTPStatus.NOT_FOUND), name
    assert ArchivePackage.objects.count() == 1


def test_another_groups_package_is_not_found_through_this_group(client, archived):
    other = make_group(slug="other")
    client.force_login(archived["staff"])
    response = client.get(
        reverse("groups:archive_package_download", args=[other.slug, archived["package"].pk])
    )
    assert response.status_code == HTTPStatus.NOT_FOUND
