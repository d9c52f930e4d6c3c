"""A member uploads two files with a progress bar each, adds a version by drag and drop,
and downloads it."""

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from documents.models import Document
from tests.documents import samples
from tests.groups.factories import add_member, make_group

from .conftest import shot

pytestmark = pytest.mark.e2e

V2 = "%PDF-1.4\n% second draft\n%%EOF\n"


def sign_in_as(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


def test_member_uploads_two_files_adds_a_version_and_downloads_it(page, live_server):
    group = make_group(slug="probation-tech", name="Probation and technology")
    member = add_member(group)
    sign_in_as(page, live_server, member)

    page.goto("/g/probation-tech/")
    page.get_by_role("navigation", name="Group sections").get_by_role(
        "link", name="Documents"
    ).click()
    expect(page).to_have_url(re.compile(r"/g/probation-tech/documents/$"))
    page.get_by_role("link", name="Upload documents").click()

    page.get_by_label("Files").set_input_files(
        [
            {"name": "guidelines.pdf", "mimeType": "application/pdf", "buffer": samples.PDF},
            {"name": "contacts.csv", "mimeType": "text/csv", "buffer": samples.CSV},
        ]
    )
    rows = page.locator(".upload-item")
    expect(rows).to_have_count(2)
    expect(page.locator(".upload-item progress")).to_have_count(2)
    page.get_by_label("Title — guidelines.pdf").fill("Draft guidelines")
    page.get_by_label("Keywords").fill("guidelines, technology")
    page.get_by_role("button", name="Upload", exact=True).click()

    for row in (rows.nth(0), rows.nth(1)):
        expect(row.get_by_text("Uploaded")).to_be_visible()
        expect(row.locator("progress")).to_be_visible()
        expect(row.locator("progress")).to_have_attribute("value", "100")
    expect(page.get_by_role("status").filter(has_text="2 uploaded, 0 not uploaded")).to_be_visible()
    shot(page, "documents-uploaded")
    assert sorted(Document.objects.values_list("title", flat=True)) == [
        "Draft guidelines",
        "contacts.csv",
    ]

    page.get_by_role("link", name="Open: Draft guidelines").click()
    expect(page.get_by_role("heading", name="Draft guidelines")).to_be_visible()

    # Drag and drop the new version onto the drop zone.
    transfer = page.evaluate_handle(
        """(text) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], "guidelines-v2.pdf", {type: "application/pdf"}));
            return dt;
        }""",
        V2,
    )
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": transfer})
    expect(page.locator(".upload-item")).to_contain_text("guidelines-v2.pdf")
    page.get_by_label("What changed?").fill("Comments from the Dutch service")
    page.get_by_role("button", name="Upload the new version").click()

    # After the upload the page reloads with the new version at the top of the history.
    history = page.get_by_role("region", name="Version history")
    expect(history).to_contain_text("Comments from the Dutch service")
    expect(history.get_by_role("row")).to_have_count(3)  # header + 2 versions
    shot(page, "document-versions")

    with page.expect_download() as info:
        page.get_by_role("link", name="Download version 2").click()
    download = info.value
    assert download.suggested_filename == "guidelines-v2.pdf"
    with open(download.path(), "rb") as handle:
        assert handle.read() == V2.encode()
    page.get_by_role("link", name="← All documents").click()
    expect(page.get_by_role("table")).to_contain_text("guidelines-v2.pdf")
    shot(page, "documents-list")
    assert page.console_errors == []


def test_the_browser_refuses_an_oversized_file_before_sending_it(page, live_server, settings):
    settings.DOCUMENT_MAX_BYTES = 1024
    group = make_group(slug="limits")
    member = add_member(group)
    sign_in_as(page, live_server, member)
    page.goto("/g/limits/documents/upload/")
    page.get_by_label("Files").set_input_files(
        [{"name": "huge.txt", "mimeType": "text/plain", "buffer": b"x" * 4096}]
    )
    expect(page.locator(".upload-item")).to_contain_text("Larger than the limit of 1.0")
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("Choose at least one file to upload.")).to_be_visible()
    assert not Document.objects.exists()
