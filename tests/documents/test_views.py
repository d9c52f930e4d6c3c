"""The documents pages: browsing, uploading, downloading, the bin; bad input of every kind."""

import io
import zipfile
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncRequestFactory
from django.test.client import BOUNDARY, encode_multipart
from django.urls import reverse
from django.utils import timezone

from documents import services
from documents.models import Document, RestrictedDownload, Version
from documents.responses import version_response
from groups import services as group_services
from tests.documents import samples
from tests.documents.factories import add_version, upload_document
from tests.helpers import assert_queries_do_not_grow

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}


def url(name, **kwargs):
    kwargs.setdefault("slug", "target")
    return reverse(f"documents:{name}", kwargs=kwargs)


def stored_files(settings) -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def temp_files(settings) -> list[Path]:
    return list(Path(settings.FILE_UPLOAD_TEMP_DIR).glob("*.upload*"))


@pytest.fixture
def member_client(client, world):
    client.force_login(world["member"])
    return client


# --- Browsing ------------------------------------------------------------


def test_documents_page_lists_documents_with_their_latest_version(member_client, world):
    document = upload_document(world["group"], world["member"], title="Work plan", keywords="plan")
    add_version(document, world["member2"], name="plan-v2.pdf")
    response = member_client.get(url("list"))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "Work plan" in html and "plan-v2.pdf" in html
    assert 'aria-current="page">Documents<' in html


def test_documents_page_queries_do_not_grow_with_documents_and_versions(member_client, world):
    group = world["group"]
    folder = services.folder_create(actor=world["member"], group=group, name="Drafts")
    n = iter(range(1000))

    def grow():
        i = next(n)
        document = upload_document(
            group,
            world["member"],
            name=f"d{i}.txt",
            content=samples.TEXT + str(i).encode(),
            keywords=f"k{i}, common",
            folder=folder if i % 2 else None,
        )
        add_version(
            document,
            world["member2"],
            name=f"d{i}-v2.txt",
            content=samples.TEXT + b"v2" + str(i).encode(),
        )
        services.folder_create(actor=world["member"], group=group, name=f"Folder {i}")

    grow()
    assert_queries_do_not_grow(lambda: member_client.get(url("list")), grow, times=3)
    assert_queries_do_not_grow(
        lambda: member_client.get(url("list"), {"q": "d", "sort": "name", "keyword": "common"}),
        grow,
    )


def test_search_finds_title_description_keyword_and_filename(member_client, world):
    g, m = world["group"], world["member"]
    upload_document(g, m, name="a.pdf", title="Risk assessment tools")
    upload_document(
        g, m, name="b.txt", content=samples.TEXT, description="About electronic monitoring"
    )
    upload_document(g, m, name="c.csv", content=samples.CSV, keywords="juveniles")
    doc = upload_document(g, m, name="d.pdf", content=samples.PDF + b"%d", title="Plain")
    add_version(doc, m, name="annex-staffing.pdf", content=samples.PDF + b"%d2")

    def titles(**params):
        response = member_client.get(url("list"), params)
        return [d.title for d in response.context["page"]]

    assert titles(q="risk") == ["Risk assessment tools"]
    assert titles(q="ELECTRONIC") == ["b.txt"]
    assert titles(q="juven") == ["c.csv"]
    assert titles(q="staffing") == ["Plain"]  # an earlier or later version's file name
    assert titles(keyword="juveniles") == ["c.csv"]
    assert titles(sort="name") == ["b.txt", "c.csv", "Plain", "Risk assessment tools"]
    assert titles(sort="-name")[0] == "Risk assessment tools"
    assert titles(sort="date")[0] == "Plain"
    assert titles(q="nothing-like-this") == []


def test_filter_by_uploader_and_folder_and_paginate(member_client, world, settings):
    settings.DOCUMENT_PAGE_SIZE = 2
    g = world["group"]
    folder = services.folder_create(actor=world["member"], group=g, name="Minutes")
    upload_document(g, world["member"], name="1.txt", content=b"one one", folder=folder)
    upload_document(g, world["member2"], name="2.txt", content=b"two two", folder=folder)
    upload_document(g, world["member2"], name="3.txt", content=b"three three")
    response = member_client.get(url("list"), {"uploader": world["member2"].pk})
    assert {d.title for d in response.context["page"]} == {"2.txt", "3.txt"}
    response = member_client.get(url("list"), {"folder": folder.pk})
    assert {d.title for d in response.context["page"]} == {"1.txt", "2.txt"}
    response = member_client.get(url("list"), {"page": 2})
    assert [d.title for d in response.context["page"]] == ["1.txt"]
    assert "page=1" in member_client.get(url("list"), {"page": 2}).content.decode()


def test_detail_shows_the_history_and_marks_identical_versions(member_client, world):
    document = upload_document(world["group"], world["member"], name="a.pdf")
    add_version(document, world["member2"], name="b.pdf", comment="Typos fixed")
    add_version(document, world["member2"], name="again-a.pdf", content=samples.PDF)
    response = member_client.get(url("detail", pk=document.pk))
    html = response.content.decode()
    assert "Typos fixed" in html and "Identical to version 1" in html
    assert [v.number for v in response.context["versions"]] == [3, 2, 1]


def test_detail_says_which_meetings_a_document_is_the_agenda_or_minutes_of(member_client, world):
    import time_machine

    from meetings import services as meeting_services
    from tests.meetings.factories import make_meeting

    group, coordinator = world["group"], world["coordinator"]
    document = upload_document(group, world["member"], name="papers.pdf")
    other = upload_document(group, world["member"], name="other.pdf", content=samples.PDF + b"%o")
    plenary = make_meeting(
        group, actor=coordinator, title="Spring plenary", agenda_document=document
    )
    workshop = make_meeting(
        group, actor=coordinator, title="Autumn workshop", agenda_document=other
    )
    with time_machine.travel(workshop.starts_at + timedelta(hours=1), tick=False):
        meeting_services.meeting_minutes_save(
            actor=coordinator, meeting=workshop, minutes="", minutes_document=document
        )
    make_meeting(group, actor=coordinator, title="Unrelated meeting")
    html = member_client.get(url("detail", pk=document.pk)).content.decode()
    plenary_url = reverse("meetings:detail", kwargs={"slug": "target", "pk": plenary.pk})
    workshop_url = reverse("meetings:detail", kwargs={"slug": "target", "pk": workshop.pk})
    assert f'Agenda of <a href="{plenary_url}">Spring plenary</a>' in html
    assert f'Minutes of <a href="{workshop_url}">Autumn workshop</a>' in html
    assert 'Agenda of <a href="' + workshop_url not in html
    assert "Unrelated meeting" not in html
    html = member_client.get(url("detail", pk=other.pk)).content.decode()
    assert f'Agenda of <a href="{workshop_url}">Autumn workshop</a>' in html
    assert "Spring plenary" not in html and "Minutes of" not in html


def test_detail_queries_do_not_grow_with_versions_and_meetings(member_client, world):
    from tests.meetings.factories import make_meeting

    group = world["group"]
    document = upload_document(group, world["member"], name="papers.pdf")
    n = iter(range(1000))

    def grow():
        i = next(n)
        add_version(
            document,
            world["member2"],
            name=f"v{i}.pdf",
            content=samples.PDF + b"%" + str(i).encode(),
        )
        make_meeting(
            group, actor=world["coordinator"], title=f"Meeting {i}", agenda_document=document
        )

    grow()
    assert_queries_do_not_grow(lambda: member_client.get(url("detail", pk=document.pk)), grow)
    assert "Agenda of" in member_client.get(url("detail", pk=document.pk)).content.decode()


# --- Uploads -------------------------------------------------------------


def test_a_plain_form_uploads_several_files_at_once(member_client, world):
    response = member_client.post(
        url("upload"),
        {
            "files": [samples.upload("a.pdf"), samples.upload("b.txt", samples.TEXT, "text/plain")],
            "title": "ignored with several files",
            "keywords": "x, y",
            "new_folder": "Inbox",
            "sensitivity": "normal",
            "purpose": "general",
        },
    )
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == url("list")
    assert sorted(Document.objects.values_list("title", flat=True)) == ["a.pdf", "b.txt"]
    assert set(Document.objects.values_list("folder__name", flat=True)) == {"Inbox"}


def test_the_upload_script_sends_one_file_with_its_title_and_gets_json(member_client, world):
    response = member_client.post(
        url("upload"),
        {
            "files": samples.upload("a.pdf"),
            "title": "Annual report",
            "size": len(samples.PDF),
            "sensitivity": "restricted",
            "purpose": "minutes",
        },
        **JSON,
    )
    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    document = Document.objects.get()
    assert body == {
        "ok": True,
        "title": "Annual report",
        "url": document.get_absolute_url(),
        "notes": [],
        "errors": [],
    }
    assert document.is_restricted and document.purpose == "minutes"


def test_a_duplicate_upload_is_pointed_out(member_client, world):
    upload_document(world["group"], world["member2"], name="original.pdf", title="Original")
    response = member_client.post(
        url("upload"),
        {"files": samples.upload("copy.pdf"), "sensitivity": "normal", "purpose": "general"},
        **JSON,
    )
    assert "Identical content is already in this group: “Original”" in response.json()["notes"][0]


def _post_one(client, name, content, **extra):
    return client.post(
        url("upload"),
        {
            "files": SimpleUploadedFile(name, content),
            "sensitivity": "normal",
            "purpose": "general",
            **extra,
        },
        **JSON,
    )


BAD = [
    ("empty.pdf", b"", "The file is empty."),
    ("agenda.pdf", samples.EXE, "Programs and scripts cannot be uploaded"),
    ("notes.txt", samples.SCRIPT, "Programs and scripts cannot be uploaded"),
    ("site.html", samples.HTML, "This kind of file cannot be uploaded"),
]


@pytest.mark.parametrize(("name", "content", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_files_get_a_clear_message_and_leave_nothing(
    member_client, world, settings, name, content, message
):
    response = _post_one(member_client, name, content)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["ok"] is False
    assert message in response.json()["errors"][0]
    assert not Document.objects.exists()
    assert stored_files(settings) == []
    assert temp_files(settings) == []


def test_oversized_files_are_refused_before_they_reach_the_disk(member_client, world, settings):
    settings.DOCUMENT_MAX_BYTES = 1000
    response = _post_one(member_client, "big.txt", b"x" * 5000)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "big.txt: the file is larger than the limit of 1000" in response.json()["errors"][0]
    assert not Document.objects.exists() and stored_files(settings) == []
    # The plain form says it too, next to the file field.
    response = member_client.post(
        url("upload"),
        {
            "files": SimpleUploadedFile("big.txt", b"x" * 5000),
            "sensitivity": "normal",
            "purpose": "general",
        },
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert 'id="files-errors"' in response.content.decode()


def test_the_page_tells_the_limit_to_the_upload_script(member_client, world, settings):
    settings.DOCUMENT_MAX_BYTES = 5 * 1024 * 1024
    html = member_client.get(url("upload")).content.decode()
    assert 'data-max-bytes="5242880"' in html
    assert "portal/js/upload.js" in html
    assert "<script>" not in html  # no inline script (CSP)


@pytest.mark.parametrize(
    ("name", "stored_name"),
    [("../../etc/passwd", "passwd"), ("x" * 1000 + ".pdf", "x" * 196 + ".pdf")],
)
def test_dangerous_or_absurd_filenames_are_made_safe(member_client, world, name, stored_name):
    response = _post_one(member_client, name, samples.PDF)
    assert response.status_code == HTTPStatus.CREATED
    version = Version.objects.get()
    assert version.original_name == stored_name
    assert version.document.title == stored_name
    assert "/" not in version.storage_key.removeprefix("documents/").split("/", 1)[1]


def test_an_interrupted_upload_is_refused(member_client, world, settings):
    # The script sends the size it meant to send; a shorter file did not arrive whole.
    response = _post_one(member_client, "a.pdf", samples.PDF, size=len(samples.PDF) * 10)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "interrupted" in response.json()["errors"][0]
    assert not Document.objects.exists() and stored_files(settings) == []


def test_a_body_cut_half_way_stores_nothing(member_client, world, settings):
    body = encode_multipart(
        BOUNDARY,
        {
            "files": SimpleUploadedFile("a.txt", samples.TEXT * 500),
            "sensitivity": "normal",
            "purpose": "general",
        },
    )
    response = member_client.generic(
        "POST",
        url("upload"),
        body[: len(body) // 2],
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
        **JSON,
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not Document.objects.exists() and stored_files(settings) == []
    assert temp_files(settings) == []


def test_an_upload_to_another_groups_address_is_404(client, world):
    client.force_login(world["other_member"])
    response = _post_one(client, "a.pdf", samples.PDF)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert not Document.objects.exists()


def test_version_upload_by_script_and_by_form(member_client, world):
    document = upload_document(world["group"], world["member2"])
    response = member_client.post(
        url("version_add", pk=document.pk),
        {
            "files": samples.upload("v2.pdf", samples.PDF + b"%2"),
            "comment": "Second draft",
            "size": len(samples.PDF) + 2,
        },
        **JSON,
    )
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["url"] == document.get_absolute_url()
    response = member_client.post(
        url("version_add", pk=document.pk), {"files": samples.upload("v3.pdf", samples.PDF + b"%3")}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert list(document.versions.values_list("number", "comment")) == [
        (3, ""),
        (2, "Second draft"),
        (1, ""),
    ]
    response = member_client.post(
        url("version_add", pk=document.pk), {"files": samples.upload("x.exe", samples.EXE)}, **JSON
    )
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert document.versions.count() == 3


def test_archived_groups_are_read_only_but_downloads_work(member_client, world):
    document = upload_document(world["group"], world["member"])
    mandate = world["group"].mandates.get()
    mandate.start_date = timezone.localdate() - timedelta(days=800)
    mandate.end_date = timezone.localdate() - timedelta(days=1)
    mandate.save()
    group_services.group_archive(actor=world["secretariat"], group=world["group"])
    assert member_client.get(url("upload")).status_code == HTTPStatus.FOUND
    assert _post_one(member_client, "a.pdf", samples.PDF).status_code == HTTPStatus.FORBIDDEN
    response = member_client.get(url("download", pk=document.pk))
    assert response.status_code == HTTPStatus.OK
    assert b"".join(response.streaming_content) == samples.PDF
    assert "Upload documents" not in member_client.get(url("list")).content.decode()


# --- Downloads -----------------------------------------------------------


def test_another_groups_document_under_this_groups_address_is_404(client, world):
    foreign = upload_document(world["other"], world["other_member"])
    client.force_login(world["coordinator"])
    for name, kwargs in [
        ("detail", {"pk": foreign.pk}),
        ("download", {"pk": foreign.pk}),
        ("version_download", {"pk": foreign.pk, "number": 1}),
    ]:
        assert client.get(url(name, **kwargs)).status_code == HTTPStatus.NOT_FOUND
    response = client.get(url("zip"), {"id": [foreign.pk]})
    assert response.status_code == HTTPStatus.FOUND  # nothing selected: back with a message


def test_a_purged_document_is_404(client, world, django_capture_on_commit_callbacks):
    document = upload_document(world["group"], world["member"])
    services.document_bin(actor=world["member"], document=document)
    client.force_login(world["secretariat"])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url("purge", pk=document.pk)).status_code == HTTPStatus.FOUND
    assert client.get(url("download", pk=document.pk)).status_code == HTTPStatus.NOT_FOUND
    assert (
        client.get(url("version_download", pk=document.pk, number=1)).status_code
        == HTTPStatus.NOT_FOUND
    )


def test_a_restricted_document_asks_to_confirm_and_records_it(member_client, world):
    document = upload_document(world["group"], world["member2"], sensitivity="restricted")
    response = member_client.get(url("download", pk=document.pk))
    assert response.status_code == HTTPStatus.OK
    assert not response.streaming
    assert "shared with the group in confidence" in response.content.decode()
    response = member_client.post(url("download", pk=document.pk), {})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "Tick the box" in response.content.decode()
    assert not RestrictedDownload.objects.exists()
    response = member_client.post(url("download", pk=document.pk), {"confirm": "on"})
    assert response.status_code == HTTPStatus.OK
    assert b"".join(response.streaming_content) == samples.PDF
    confirmation = RestrictedDownload.objects.get()
    assert (confirmation.user, confirmation.version) == (world["member"], document.current_version)
    # Coordinators see who confirmed.
    member_client.force_login(world["coordinator"])
    assert (
        world["member"].full_name
        in member_client.get(url("detail", pk=document.pk)).content.decode()
    )


def test_a_selection_downloads_as_a_zip_and_restricted_ones_need_confirmation(member_client, world):
    a = upload_document(world["group"], world["member"], name="a.txt", content=samples.TEXT)
    b = upload_document(world["group"], world["member"], name="b.pdf", sensitivity="restricted")
    binned = upload_document(world["group"], world["member"], name="c.csv", content=samples.CSV)
    services.document_bin(actor=world["member"], document=binned)
    response = member_client.get(url("zip"), {"id": [a.pk, b.pk, binned.pk]})
    assert response.status_code == HTTPStatus.OK and not response.streaming
    assert "b.pdf" in response.content.decode()  # the notice lists the restricted document
    response = member_client.post(url("zip"), {"id": [a.pk, b.pk, binned.pk], "confirm": "on"})
    assert response.status_code == HTTPStatus.OK and response.streaming
    assert response["X-Content-Type-Options"] == "nosniff"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["a.txt", "b.pdf"]  # the binned one is left out
    assert archive.read("a.txt") == samples.TEXT
    assert RestrictedDownload.objects.filter(document=b).count() == 1


def test_under_asgi_files_stream_through_an_async_iterator(world):
    document = upload_document(
        world["group"], world["member"], name="a.txt", content=samples.TEXT * 1000
    )
    request = AsyncRequestFactory().get("/")
    response = version_response(request, document.current_version)
    assert response.is_async  # a sync iterator would be read whole into memory by Django

    async def consume():
        return b"".join([chunk async for chunk in response])

    assert async_to_sync(consume)() == samples.TEXT * 1000
    response.close()


def test_s3_downloads_can_stream_through_the_portal(client, world, settings, moto_endpoint):
    from tests.conftest import need_service
    from tests.documents.conftest import use_s3

    need_service(moto_endpoint is not None, "moto_server did not start")
    use_s3(settings, moto_endpoint)
    settings.DOCUMENT_S3_REDIRECT = False
    document = upload_document(
        world["group"], world["member"], name="a.txt", content=samples.TEXT * 100
    )
    client.force_login(world["member2"])
    response = client.get(url("download", pk=document.pk))
    assert response.status_code == HTTPStatus.OK
    assert b"".join(response.streaming_content) == samples.TEXT * 100
    assert response["Content-Disposition"] == 'attachment; filename="a.txt"'


# --- Bin -----------------------------------------------------------------


def test_bin_restore_and_purge_through_the_pages(client, world, django_capture_on_commit_callbacks):
    document = upload_document(world["group"], world["member"], title="Old draft")
    client.force_login(world["member2"])
    assert client.post(url("bin", pk=document.pk)).status_code == HTTPStatus.FORBIDDEN
    client.force_login(world["member"])
    assert client.post(url("bin", pk=document.pk)).status_code == HTTPStatus.FOUND
    assert list(client.get(url("list")).context["page"]) == []
    assert client.get(url("bin_list")).context["documents"] == [document]
    client.force_login(world["member2"])
    assert client.get(url("bin_list")).context["documents"] == []
    assert client.get(url("detail", pk=document.pk)).status_code == HTTPStatus.NOT_FOUND
    client.force_login(world["coordinator"])
    assert client.post(url("restore", pk=document.pk)).status_code == HTTPStatus.FOUND
    assert list(client.get(url("list")).context["page"]) == [document]
    client.force_login(world["secretariat"])
    assert (
        client.post(url("purge", pk=document.pk)).status_code == HTTPStatus.FORBIDDEN
    )  # not binned


def test_folder_creation_page(member_client, world):
    response = member_client.post(url("folder_create"), {"name": "Meeting papers"})
    assert response.status_code == HTTPStatus.FOUND
    assert "Meeting papers" in member_client.get(response["Location"]).content.decode()
    response = member_client.post(url("folder_create"), {"name": ""}, follow=True)
    assert "This field is required" in response.content.decode()


def test_settings_limit_comes_from_the_environment():
    assert django_settings.DOCUMENT_MAX_BYTES == 200 * 1024 * 1024
    assert django_settings.FILE_UPLOAD_HANDLERS[0] == "documents.uploads.SizeLimitUploadHandler"


def test_the_streamed_zip_opens_with_info_zip(member_client, world, tmp_path):
    import shutil
    import subprocess

    if shutil.which("unzip") is None:
        pytest.skip("unzip is not installed")
    a = upload_document(world["group"], world["member"], name="stored.pdf")  # stored as is
    b = upload_document(
        world["group"], world["member"], name="deflated.txt", content=samples.TEXT * 50
    )
    response = member_client.get(url("zip"), {"id": [a.pk, b.pk]})
    target = tmp_path / "docs.zip"
    target.write_bytes(b"".join(response.streaming_content))
    result = subprocess.run(["unzip", "-t", str(target)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout


@pytest.mark.parametrize("forged", ["²", "9" * 5000, str(2**63), "99999999999999999999"])
def test_a_zip_of_ids_that_cannot_be_ids_selects_nothing(member_client, world, forged):
    """Found by tests/hostile: digits that are not ASCII, or too many, or past 64 bits
    used to reach int() or the database and answer 500."""
    document = upload_document(world["group"], world["member"], name="a.txt", content=samples.TEXT)
    response = member_client.get(url("zip"), {"id": [forged]})
    assert response.status_code == HTTPStatus.FOUND  # back to the list: nothing selected
    response = member_client.get(url("zip"), {"id": [forged, document.pk]})
    assert response.status_code == HTTPStatus.OK and response.streaming
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["a.txt"]
