"""Storage: the same tests on the local filesystem and on an S3-compatible endpoint (moto).

Files are written first under a generated key, then the rows; any failure
deletes the stored file again. Downloads stream (local) or redirect to a
short-lived signed URL (S3) with ``Content-Disposition: attachment``.
"""

import io
import urllib.request
import zipfile
from http import HTTPStatus
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from documents import services
from documents.models import Document, Version
from documents.services import DocumentError
from tests.documents import samples
from tests.documents.factories import add_version, upload_document

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _download(client, url, storage):
    """Follow the download as a browser would; returns (bytes, headers of the file answer)."""
    response = client.get(url)
    if storage.name == "s3":
        assert response.status_code == HTTPStatus.FOUND
        assert response["X-Content-Type-Options"] == "nosniff"
        location = response["Location"]
        assert "Signature=" in location  # signed, short-lived (querystring_expire)
        with urllib.request.urlopen(location) as answer:  # noqa: S310 - local moto server
            return answer.read(), answer.headers
    assert response.status_code == HTTPStatus.OK
    assert response.streaming
    return _body(response), response


def test_upload_stores_the_file_under_a_generated_key(world, storage, settings):
    document = upload_document(
        world["group"], world["member"], name="../../etc/passwd.txt", content=samples.TEXT
    )
    version = document.current_version
    assert storage.keys(settings) == {version.storage_key}
    assert version.original_name == "passwd.txt"
    with default_storage.open(version.storage_key, "rb") as handle:
        assert handle.read() == samples.TEXT


def test_a_refused_file_leaves_no_file_and_no_row(world, storage, settings):
    with pytest.raises(DocumentError):
        upload_document(world["group"], world["member"], name="tool.pdf", content=samples.EXE)
    with pytest.raises(DocumentError):
        upload_document(world["group"], world["member"], name="empty.pdf", content=b"")
    assert storage.keys(settings) == set()
    assert not Document.objects.exists()


def test_a_failure_after_storing_deletes_the_stored_file(world, storage, settings):
    with (
        mock.patch.object(Version.objects, "create", side_effect=RuntimeError("database down")),
        pytest.raises(RuntimeError),
    ):
        upload_document(world["group"], world["member"])
    assert storage.keys(settings) == set()
    assert not Document.objects.exists()


def test_a_failed_new_version_deletes_its_file_and_keeps_the_old_one(world, storage, settings):
    document = upload_document(world["group"], world["member"])
    before = storage.keys(settings)
    with (
        mock.patch("documents.services.activity_record", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        add_version(document, world["member"])
    assert storage.keys(settings) == before
    assert document.versions.count() == 1


def test_purge_deletes_every_file_of_the_document(
    world, storage, settings, django_capture_on_commit_callbacks
):
    document = upload_document(world["group"], world["member"])
    add_version(document, world["member"])
    keep = upload_document(world["group"], world["member"], name="keep.txt", content=samples.TEXT)
    services.document_bin(actor=world["member"], document=document)
    with django_capture_on_commit_callbacks(execute=True):
        services.document_purge(actor=world["secretariat"], document=document)
    assert storage.keys(settings) == {keep.current_version.storage_key}


def test_every_version_downloads_with_attachment_headers(client, world, storage):
    document = upload_document(world["group"], world["member"], name="Überblick 2026.pdf")
    add_version(
        document, world["member"], name="Überblick 2026 v2.pdf", content=samples.PDF + b"%2\n"
    )
    client.force_login(world["member2"])
    for number, content in [(1, samples.PDF), (2, samples.PDF + b"%2\n")]:
        url = reverse(
            "documents:version_download",
            kwargs={"slug": "target", "pk": document.pk, "number": number},
        )
        body, headers = _download(client, url, storage)
        assert body == content
        disposition = headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert "filename*=utf-8''%C3%9Cberblick%202026" in disposition
        assert headers["Content-Type"] == "application/pdf"
        if storage.name == "local":
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Content-Length"] == str(len(content))


def test_a_folder_downloads_as_one_zip(client, world, storage):
    folder = services.folder_create(actor=world["member"], group=world["group"], name="Minutes")
    a = upload_document(
        world["group"], world["member"], name="m.txt", content=samples.TEXT, folder=folder
    )
    upload_document(
        world["group"], world["member"], name="m.txt", content=samples.CSV, folder=folder
    )
    upload_document(world["group"], world["member"], name="outside.pdf")
    add_version(a, world["member"], name="m.txt", content=samples.TEXT + b"v2")
    client.force_login(world["member2"])
    response = client.get(
        reverse("documents:zip", kwargs={"slug": "target"}), {"folder": folder.pk}
    )
    assert response.status_code == HTTPStatus.OK
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    archive = zipfile.ZipFile(io.BytesIO(_body(response)))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == ["Minutes/m (2).txt", "Minutes/m.txt"]
    contents = {archive.read(name) for name in archive.namelist()}
    assert contents == {samples.TEXT + b"v2", samples.CSV}  # current versions


def test_the_sweep_deletes_only_old_files_without_a_version(world, storage, settings):
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.core.management import call_command

    document = upload_document(world["group"], world["member"])
    orphan = default_storage.save(
        f"documents/{world['group'].pk}/orphan", ContentFile(b"left over")
    )
    assert (
        services.orphans_sweep(older_than_hours=1) == []
    )  # too recent: maybe an upload in progress
    later = timezone.now() + timedelta(hours=2)
    with mock.patch("documents.services.timezone.now", return_value=later):
        assert services.orphans_sweep(older_than_hours=1, dry_run=True) == [orphan]
        call_command("documents_sweep", "--hours", "1", stdout=io.StringIO())
    assert storage.keys(settings) == {document.current_version.storage_key}


# --- The production storage options (portal/settings/base.py) ---------------


def test_the_settings_build_private_short_lived_s3_options_from_the_environment():
    from django.core.exceptions import ImproperlyConfigured

    from tests.documents.conftest import production_storage

    storage = production_storage(
        "http://s3.example.test", "portal-files", AWS_QUERYSTRING_EXPIRE="90"
    )
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "portal-files"
    assert options["endpoint_url"] == "http://s3.example.test"
    # No ACL sent: the object is the bucket owner's alone (and ACL-disabled buckets accept it).
    assert options["default_acl"] is None
    assert options["file_overwrite"] is False
    assert options["querystring_auth"] is True
    assert options["querystring_expire"] == 90
    assert options["signature_version"] == "s3v4"
    assert production_storage("", "b", AWS_DEFAULT_ACL="private")["OPTIONS"]["default_acl"] == (
        "private"
    )
    for acl in ["public-read", "public-read-write", "authenticated-read"]:
        with pytest.raises(ImproperlyConfigured):
            production_storage("", "b", AWS_DEFAULT_ACL=acl)
    with pytest.raises(ImproperlyConfigured):
        production_storage("", "b", AWS_QUERYSTRING_EXPIRE="0")


def test_without_a_bucket_files_stay_on_the_local_disk_without_a_url(tmp_path):
    import environ

    from portal.settings.base import default_storage_from

    env = environ.Env()
    env.ENVIRON = {}
    assert default_storage_from(env, tmp_path) == {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": tmp_path / "files", "base_url": None},
    }


@pytest.mark.parametrize("acl", ["", "private"])
def test_with_the_production_options_objects_are_private_and_urls_expire(
    client, world, settings, moto_endpoint, acl
):
    from urllib.error import HTTPError
    from urllib.parse import parse_qs, urlsplit

    from tests.conftest import need_service
    from tests.documents.conftest import use_s3

    need_service(moto_endpoint is not None, "moto_server (S3-compatible endpoint) did not start")
    backend = use_s3(settings, moto_endpoint, AWS_QUERYSTRING_EXPIRE="90", AWS_DEFAULT_ACL=acl)
    document = upload_document(world["group"], world["member"], name="minutes.pdf")
    key = document.current_version.storage_key

    answer = backend.client.get_object_acl(Bucket=backend.bucket, Key=key)
    owner = answer["Owner"]["ID"]
    assert [(g["Grantee"].get("ID"), g["Permission"]) for g in answer["Grants"]] == [
        (owner, "FULL_CONTROL")
    ]
    with pytest.raises(HTTPError) as refused:
        urllib.request.urlopen(f"{moto_endpoint}/{backend.bucket}/{key}")  # noqa: S310 - no signature
    assert refused.value.code == HTTPStatus.FORBIDDEN

    client.force_login(world["member2"])
    response = client.get(
        reverse("documents:download", kwargs={"slug": "target", "pk": document.pk})
    )
    assert response.status_code == HTTPStatus.FOUND
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["X-Amz-Expires"] == ["90"]
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    with urllib.request.urlopen(response["Location"]) as signed:  # noqa: S310 - local moto server
        assert signed.read() == samples.PDF
