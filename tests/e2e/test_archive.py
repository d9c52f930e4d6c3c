"""The secretariat closes a group, archives it, watches the package being built and
downloads it; the package holds the group's documents and checks out against its manifest."""

import hashlib
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from groups import services
from groups.selectors import group_for_viewer
from tests.conftest import make_secretariat
from tests.documents import samples
from tests.documents.factories import upload_document
from tests.factories import UserFactory
from tests.groups.factories import add_member, make_group

from .conftest import shot
from .test_documents import sign_in_as

pytestmark = pytest.mark.e2e


def test_the_secretariat_archives_a_group_and_downloads_its_package(page, live_server, tmp_path):
    staff = make_secretariat(UserFactory(full_name="Sam Secretariat"))
    group = make_group(slug="radicalisation", name="Radicalisation and violent extremism")
    member = add_member(group)
    upload_document(group, member, name="handbook.pdf", content=samples.PDF)
    services.group_close(
        actor=staff, group=group_for_viewer(slug="radicalisation"), reason="Work completed."
    )
    sign_in_as(page, live_server, staff)

    page.goto("/g/radicalisation/")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Put every version of every document in the package").check()
    page.get_by_role("button", name="Archive the group").click()

    expect(page).to_have_url(re.compile(r"/g/radicalisation/package/$"))
    expect(page.get_by_text("Its archive package is being built")).to_be_visible()
    # The build runs in the background; the panel polls until the download appears.
    download_link = page.get_by_role("link", name="Download the package")
    expect(download_link).to_be_visible(timeout=20_000)
    shot(page, "archive-package")

    with page.expect_download() as info:
        download_link.click()
    path = tmp_path / "package.zip"
    info.value.save_as(path)
    with zipfile.ZipFile(path) as zf:
        top = "radicalisation-archive/"
        manifest = json.loads(zf.read(top + "manifest.json"))
        for item in manifest["files"]:
            assert hashlib.sha256(zf.read(top + item["path"])).hexdigest() == item["sha256"]
        assert zf.read(top + "documents/handbook/v1 handbook.pdf") == samples.PDF
        assert "Radicalisation and violent extremism" in zf.read(top + "index.html").decode()

    page.get_by_role("button", name="Check it against its manifest").click()
    expect(page.get_by_text("Intact")).to_be_visible(timeout=20_000)
    assert page.console_errors == []
