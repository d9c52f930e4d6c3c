"""The rules of documents, proven through the services."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from documents import services
from documents.models import Document, Keyword, RestrictedDownload, Version
from documents.services import DocumentError
from groups import services as group_services
from portal.models import Activity, Notification
from tests.documents import samples
from tests.documents.factories import add_version, upload_document
from tests.groups.factories import make_group

pytestmark = pytest.mark.django_db


def test_upload_creates_a_document_with_its_first_version(world):
    group, member = world["group"], world["member"]
    result = services.document_upload(
        actor=member,
        group=group,
        upload=samples.upload("Draft guidelines.pdf"),
        description="For discussion",
        keywords="Electronic monitoring, guidelines; GUIDELINES",
        new_folder="Drafts",
        sensitivity="restricted",
        purpose="agenda",
    )
    document, version = result.document, result.version
    assert document.title == "Draft guidelines.pdf"  # the title defaults to the file name
    assert document.folder.name == "Drafts"
    assert sorted(document.keywords.values_list("name", flat=True)) == [
        "electronic monitoring",
        "guidelines",
    ]
    assert (document.sensitivity, document.purpose) == ("restricted", "agenda")
    assert document.current_version == version
    assert (version.number, version.size, version.content_type) == (
        1,
        len(samples.PDF),
        "application/pdf",
    )
    assert version.original_name == "Draft guidelines.pdf"
    assert version.storage_key.startswith(f"documents/{group.pk}/")
    assert "Draft" not in version.storage_key  # the user's name is metadata only
    assert result.duplicates == []


def test_upload_records_activity_and_notifies_the_other_members(world):
    document = upload_document(world["group"], world["member"], title="Work plan")
    activity = Activity.objects.get(verb="document.uploaded")
    assert activity.group == world["group"] and activity.actor == world["member"]
    notified = set(Notification.objects.filter(category="documents").values_list("user", flat=True))
    assert notified == {world["coordinator"].pk, world["member2"].pk}
    assert Notification.objects.filter(url=document.get_absolute_url()).count() == 2


def test_a_new_version_keeps_every_earlier_version(world):
    document = upload_document(world["group"], world["member"])
    v2 = add_version(document, world["member2"], comment="Comments of the Dutch service")
    v3 = add_version(document, world["coordinator"], content=samples.PDF + b"%v3\n")
    document.refresh_from_db()
    assert [v.number for v in document.versions.order_by("number")] == [1, 2, 3]
    assert document.current_version == v3
    assert v2.comment == "Comments of the Dutch service" and v2.uploaded_by == world["member2"]
    assert Activity.objects.filter(verb="document.version_added").count() == 2
    assert Notification.objects.filter(title__startswith="New version").count() == 4


def test_identical_content_in_the_group_is_pointed_out(world):
    first = upload_document(world["group"], world["member"], name="a.pdf")
    result = services.document_upload(
        actor=world["member2"], group=world["group"], upload=samples.upload("copy.pdf")
    )
    assert [v.document for v in result.duplicates] == [first]
    # ...but content of another group is not mentioned.
    other = services.document_upload(
        actor=world["other_member"], group=world["other"], upload=samples.upload("b.pdf")
    )
    assert other.duplicates == []


def test_keywords_are_limited(world):
    with pytest.raises(DocumentError, match="at most"):
        upload_document(
            world["group"], world["member"], keywords=",".join(f"k{i}" for i in range(20))
        )
    assert not Document.objects.exists()


def test_outsiders_and_members_of_other_groups_cannot_upload(world):
    for user in (world["outsider"], world["other_member"], world["secretariat"]):
        with pytest.raises(PermissionDenied):
            upload_document(world["group"], user)
    assert not Version.objects.exists()


def test_a_folder_of_another_group_is_refused(world):
    folder = services.folder_create(actor=world["other_member"], group=world["other"], name="X")
    with pytest.raises(DocumentError):
        upload_document(world["group"], world["member"], folder=folder)


def test_folders_are_unique_per_group_whatever_the_case(world):
    a = services.folder_create(actor=world["member"], group=world["group"], name="Minutes")
    b = services.folder_create(actor=world["member2"], group=world["group"], name="  minutes ")
    assert a == b
    assert (
        services.folder_create(actor=world["other_member"], group=world["other"], name="Minutes")
        != a
    )


def _expire(group):
    mandate = group.mandates.get()
    mandate.start_date = timezone.localdate() - timedelta(days=800)
    mandate.end_date = timezone.localdate() - timedelta(days=10)
    mandate.save()
    return make_fresh(group)


def make_fresh(group):
    from groups.selectors import group_for_viewer

    return group_for_viewer(slug=group.slug)


def test_expired_and_archived_groups_are_read_only(world):
    document = upload_document(world["group"], world["member"])
    group = _expire(world["group"])
    document.group = group
    with pytest.raises(PermissionDenied):
        upload_document(group, world["member"])
    with pytest.raises(PermissionDenied):
        add_version(document, world["member"])
    with pytest.raises(PermissionDenied):
        services.document_bin(actor=world["coordinator"], document=document)
    group = group_services.group_archive(actor=world["secretariat"], group=group)
    group = make_fresh(group)
    document.group = group
    # Still readable by those who could see it.
    assert world["member"].has_perm("documents.view_document", document)
    assert world["secretariat"].has_perm("documents.view_document", document)
    assert not world["outsider"].has_perm("documents.view_document", document)


def test_the_uploader_or_a_coordinator_bins_and_restores(world):
    document = upload_document(world["group"], world["member"])
    with pytest.raises(PermissionDenied):
        services.document_bin(actor=world["member2"], document=document)
    services.document_bin(actor=world["member"], document=document)
    assert document.binned_at is not None and document.binned_by == world["member"]
    # Binned documents are hidden from other members.
    assert not world["member2"].has_perm("documents.view_document", document)
    assert world["coordinator"].has_perm("documents.view_document", document)
    with pytest.raises(PermissionDenied):
        add_version(document, world["member"])
    services.document_restore(actor=world["coordinator"], document=document)
    document.refresh_from_db()
    assert document.binned_at is None
    services.document_bin(actor=world["coordinator"], document=document)
    assert Activity.objects.filter(verb="document.binned").count() == 2
    assert Activity.objects.filter(verb="document.restored").count() == 1


def test_only_the_secretariat_purges_and_only_from_the_bin(world):
    document = upload_document(world["group"], world["member"])
    add_version(document, world["member"])
    with pytest.raises(PermissionDenied):
        services.document_purge(actor=world["secretariat"], document=document)  # not binned
    services.document_bin(actor=world["member"], document=document)
    for user in (world["member"], world["coordinator"]):
        with pytest.raises(PermissionDenied):
            services.document_purge(actor=user, document=document)
    services.document_purge(actor=world["secretariat"], document=document)
    assert not Document.objects.exists() and not Version.objects.exists()
    assert Activity.objects.filter(verb="document.purged").exists()


def test_restricted_download_confirmations_are_recorded(world):
    document = upload_document(world["group"], world["member"], sensitivity="restricted")
    normal = upload_document(world["group"], world["member"], name="b.pdf", content=samples.TEXT)
    services.restricted_download_confirm(
        actor=world["member2"], versions=[document.current_version, normal.current_version]
    )
    row = RestrictedDownload.objects.get()
    assert (row.document, row.user, row.version) == (
        document,
        world["member2"],
        document.current_version,
    )
    with pytest.raises(PermissionDenied):
        services.restricted_download_confirm(
            actor=world["outsider"], versions=[document.current_version]
        )


def test_parse_keywords_normalises():
    assert services.parse_keywords(" Probation ,probation;  Risk   assessment,, ") == [
        "probation",
        "risk assessment",
    ]
    assert not Keyword.objects.exists()


def test_a_group_of_its_own_gets_its_own_storage_prefix(world):
    group = make_group(slug="third")
    from tests.groups.factories import add_member

    user = add_member(group)
    document = upload_document(group, user)
    assert document.current_version.storage_key.startswith(f"documents/{group.pk}/")
