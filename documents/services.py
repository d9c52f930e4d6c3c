"""Every write to documents, versions and folders.

Each function checks permission, validates, writes, records the activity and
queues side effects on commit. Files are written to storage first under a
generated key, then the rows in one transaction; if anything fails after the
file was stored, the file is deleted again, so there is no orphan file and no
half-written row. Errors are ``DocumentError`` (a ``ValidationError``) with a
message meant for the user.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext as _

from groups.models import ExpertGroup, Membership
from portal.services import activity_record, notify

from .files import FileRefused, inspect, new_storage_key, safe_filename
from .models import Document, Folder, Keyword, RestrictedDownload, Version

logger = logging.getLogger(__name__)

TITLE_MAX_LENGTH = 200
DESCRIPTION_MAX_LENGTH = 5000
COMMENT_MAX_LENGTH = 1000
KEYWORD_MAX_LENGTH = 40
KEYWORDS_MAX = 12
FOLDER_NAME_MAX_LENGTH = 100


class DocumentError(ValidationError):
    """A rule refused the action; the message says why. Nothing was written."""


@dataclass
class Stored:
    key: str
    original_name: str
    size: int
    sha256: str
    content_type: str


@dataclass
class UploadResult:
    document: Document
    version: Version
    #: Earlier versions in the same group with the same SHA-256.
    duplicates: list[Version] = field(default_factory=list)


def _require(user, perm: str, obj) -> None:
    if not user.has_perm(perm, obj):
        raise PermissionDenied


def _clean_text(value: str, max_length: int) -> str:
    return "".join(c for c in (value or "") if c in "\n\t" or c.isprintable()).strip()[:max_length]


def parse_keywords(value: str | Iterable[str]) -> list[str]:
    """Keywords from "a, b; c" or a list: lower case, without duplicates, in order."""
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    seen: list[str] = []
    for raw in value:
        word = " ".join(_clean_text(raw, 200).lower().split())[:KEYWORD_MAX_LENGTH].strip()
        if word and word not in seen:
            seen.append(word)
    if len(seen) > KEYWORDS_MAX:
        raise DocumentError(_("Use at most %(n)d keywords.") % {"n": KEYWORDS_MAX}, code="keywords")
    return seen


def _keywords(names: list[str]) -> list[Keyword]:
    if not names:
        return []
    Keyword.objects.bulk_create([Keyword(name=n) for n in names], ignore_conflicts=True)
    return list(Keyword.objects.filter(name__in=names))


def _members(group: ExpertGroup, *, excluding) -> list:
    return [
        m.user
        for m in Membership.objects.filter(group=group, state=Membership.State.ACTIVE)
        .exclude(user=excluding)
        .select_related("user")
    ]


def _delete_files(keys: Iterable[str]) -> None:
    for key in keys:
        try:
            default_storage.delete(key)
        except Exception:  # a failed clean-up must not hide the original error
            logger.exception("Could not delete stored file %s", key)


def _store(upload, *, group: ExpertGroup, declared_size: int | None) -> Stored:
    """Check the upload and write it to storage under a new key. No row is written here."""
    if upload is None:
        raise DocumentError(_("Choose a file to upload."), code="no_file")
    if declared_size is not None and upload.size != declared_size:
        raise DocumentError(
            _("The upload was interrupted before the whole file arrived. Please try again."),
            code="incomplete",
        )
    try:
        inspected = inspect(upload, max_bytes=settings.DOCUMENT_MAX_BYTES)
    except FileRefused as exc:
        raise DocumentError(str(exc), code="refused") from exc
    # The stored object carries the sniffed type, never the one the browser declared.
    upload.content_type = inspected.content_type
    key = default_storage.save(new_storage_key(group.pk), upload)
    return Stored(
        key=key,
        original_name=safe_filename(upload.name),
        size=inspected.size,
        sha256=inspected.sha256,
        content_type=inspected.content_type,
    )


def _duplicates_of(version: Version, group: ExpertGroup) -> list[Version]:
    return list(
        Version.objects.filter(document__group=group, sha256=version.sha256)
        .exclude(pk=version.pk)
        .select_related("document")
        .order_by("uploaded_at")[:5]
    )


# --- Folders -------------------------------------------------------------


def _folder_get_or_create(*, actor, group: ExpertGroup, name: str) -> Folder:
    name = " ".join(_clean_text(name, FOLDER_NAME_MAX_LENGTH).split())
    if not name:
        raise DocumentError(_("Give the folder a name."), code="folder_name")
    existing = Folder.objects.filter(group=group).annotate(lname=Lower("name"))
    folder = existing.filter(lname=name.lower()).first()
    if folder is not None:
        return folder
    try:
        with transaction.atomic():
            folder = Folder.objects.create(group=group, name=name, created_by=actor)
    except IntegrityError:
        return existing.get(lname=name.lower())
    activity_record(
        actor=actor,
        verb="document.folder_created",
        group=group,
        summary=f"Folder “{name}” created",
        data={"folder": folder.pk, "name": name},
    )
    return folder


@transaction.atomic
def folder_create(*, actor, group: ExpertGroup, name: str) -> Folder:
    """A new folder (or the existing one of that name, whatever its case)."""
    _require(actor, "groups.contribute", group)
    return _folder_get_or_create(actor=actor, group=group, name=name)


# --- Uploads -------------------------------------------------------------


def document_upload(
    *,
    actor,
    group: ExpertGroup,
    upload,
    title: str = "",
    description: str = "",
    keywords: str | Iterable[str] = (),
    folder: Folder | None = None,
    new_folder: str = "",
    sensitivity: str = Document.Sensitivity.NORMAL,
    purpose: str = Document.Purpose.GENERAL,
    declared_size: int | None = None,
) -> UploadResult:
    """A new document with its first version. The title defaults to the file name."""
    _require(actor, "groups.contribute", group)
    if folder is not None and folder.group_id != group.pk:
        raise DocumentError(_("Choose a folder of this group."), code="folder")
    if sensitivity not in Document.Sensitivity.values:
        raise DocumentError(_("Choose a sensitivity from the list."), code="sensitivity")
    if purpose not in Document.Purpose.values:
        raise DocumentError(_("Choose a purpose from the list."), code="purpose")
    keyword_names = parse_keywords(keywords)
    description = _clean_text(description, DESCRIPTION_MAX_LENGTH)

    stored = _store(upload, group=group, declared_size=declared_size)
    try:
        with transaction.atomic():
            if new_folder.strip():
                folder = _folder_get_or_create(actor=actor, group=group, name=new_folder)
            now = timezone.now()
            document = Document.objects.create(
                group=group,
                folder=folder,
                title=" ".join(_clean_text(title, TITLE_MAX_LENGTH).split())
                or stored.original_name,
                description=description,
                sensitivity=sensitivity,
                purpose=purpose,
                created_by=actor,
                updated_at=now,
            )
            version = Version.objects.create(
                document=document,
                number=1,
                storage_key=stored.key,
                original_name=stored.original_name,
                size=stored.size,
                sha256=stored.sha256,
                content_type=stored.content_type,
                uploaded_by=actor,
            )
            document.current_version = version
            document.save(update_fields=["current_version"])
            document.keywords.set(_keywords(keyword_names))
            activity_record(
                actor=actor,
                verb="document.uploaded",
                group=group,
                summary=f"Document “{document.title}” uploaded",
                data={"document": document.pk, "version": 1, "title": document.title},
            )
            notify(
                users=_members(group, excluding=actor),
                category="documents",
                title=lambda: (
                    _("New document in %(group)s: %(title)s")
                    % {"group": group.name, "title": document.title}
                ),
                url=document.get_absolute_url(),
            )
            duplicates = _duplicates_of(version, group)
    except BaseException:
        _delete_files([stored.key])
        raise
    return UploadResult(document=document, version=version, duplicates=duplicates)


def version_add(
    *, actor, document: Document, upload, comment: str = "", declared_size: int | None = None
) -> UploadResult:
    """A new version of a document; earlier versions stay, downloadable."""
    _require(actor, "documents.add_version", document)
    group = document.group
    comment = _clean_text(comment, COMMENT_MAX_LENGTH)
    stored = _store(upload, group=group, declared_size=declared_size)
    try:
        with transaction.atomic():
            document = (
                Document.objects.select_for_update().select_related("group").get(pk=document.pk)
            )
            if document.binned_at is not None:
                raise DocumentError(
                    _("This document is in the bin; restore it first."), code="binned"
                )
            number = (document.versions.aggregate(n=Max("number"))["n"] or 0) + 1
            version = Version.objects.create(
                document=document,
                number=number,
                storage_key=stored.key,
                original_name=stored.original_name,
                size=stored.size,
                sha256=stored.sha256,
                content_type=stored.content_type,
                comment=comment,
                uploaded_by=actor,
            )
            document.current_version = version
            document.updated_at = timezone.now()
            document.save(update_fields=["current_version", "updated_at"])
            activity_record(
                actor=actor,
                verb="document.version_added",
                group=group,
                summary=f"Version {number} of “{document.title}” uploaded",
                data={"document": document.pk, "version": number, "title": document.title},
            )
            notify(
                users=_members(group, excluding=actor),
                category="documents",
                title=lambda: (
                    _("New version of %(title)s in %(group)s")
                    % {"title": document.title, "group": group.name}
                ),
                body=comment,
                url=document.get_absolute_url(),
            )
            duplicates = _duplicates_of(version, group)
    except BaseException:
        _delete_files([stored.key])
        raise
    return UploadResult(document=document, version=version, duplicates=duplicates)


# --- Bin -----------------------------------------------------------------


@transaction.atomic
def document_bin(*, actor, document: Document) -> Document:
    """Move to the group's bin (the uploader or a coordinator). Nothing is deleted."""
    _require(actor, "documents.bin_document", document)
    document.binned_at = timezone.now()
    document.binned_by = actor
    document.save(update_fields=["binned_at", "binned_by"])
    activity_record(
        actor=actor,
        verb="document.binned",
        group=document.group,
        summary=f"Document “{document.title}” moved to the bin",
        data={"document": document.pk, "title": document.title},
    )
    return document


@transaction.atomic
def document_restore(*, actor, document: Document) -> Document:
    _require(actor, "documents.restore_document", document)
    document.binned_at = None
    document.binned_by = None
    document.save(update_fields=["binned_at", "binned_by"])
    activity_record(
        actor=actor,
        verb="document.restored",
        group=document.group,
        summary=f"Document “{document.title}” restored from the bin",
        data={"document": document.pk, "title": document.title},
    )
    return document


@transaction.atomic
def document_purge(*, actor, document: Document) -> None:
    """Delete a binned document, every version and every file for good (secretariat only).

    The rows go in this transaction; the files are deleted once it has committed,
    so a failed purge leaves everything in place.
    """
    _require(actor, "documents.purge_document", document)
    keys = list(Version.objects.filter(document=document).values_list("storage_key", flat=True))
    group, title, pk = document.group, document.title, document.pk
    Document.objects.filter(pk=pk).update(current_version=None)
    document.delete()
    activity_record(
        actor=actor,
        verb="document.purged",
        group=group,
        summary=f"Document “{title}” deleted for good with {len(keys)} version(s)",
        data={"document": pk, "title": title, "versions": len(keys)},
    )
    transaction.on_commit(lambda: _delete_files(keys))


# --- Downloads of restricted documents -----------------------------------


def restricted_download_confirm(*, actor, versions: Iterable[Version]) -> list[RestrictedDownload]:
    """Record that the user confirmed the notice before downloading restricted documents.

    One row per version of a restricted document; versions of normal documents are ignored.
    """
    versions = [v for v in versions if v.document.is_restricted]
    for version in versions:
        _require(actor, "documents.view_document", version.document)
    return RestrictedDownload.objects.bulk_create(
        [RestrictedDownload(document=v.document, version=v, user=actor) for v in versions]
    )


# --- Housekeeping --------------------------------------------------------


def orphans_sweep(*, older_than_hours: int = 24, dry_run: bool = False) -> list[str]:
    """Delete stored files that no version points to (left by a crash between file and row).

    Only files older than ``older_than_hours`` go, so an upload in progress (file
    stored, rows not yet committed) is never touched.
    """
    from datetime import timedelta

    cutoff = timezone.now() - timedelta(hours=older_than_hours)
    orphans = []
    root = "documents"
    try:
        group_dirs, _files = default_storage.listdir(root)
    except FileNotFoundError:
        return []
    for group_dir in group_dirs:
        _dirs, names = default_storage.listdir(f"{root}/{group_dir}")
        keys = [f"{root}/{group_dir}/{name}" for name in names]
        known = set(
            Version.objects.filter(storage_key__in=keys).values_list("storage_key", flat=True)
        )
        for key in keys:
            if key in known:
                continue
            try:
                modified = default_storage.get_modified_time(key)
            except FileNotFoundError:  # deleted meanwhile (a purge, another sweep)
                continue
            if modified < cutoff:
                orphans.append(key)
    if not dry_run:
        _delete_files(orphans)
    return orphans


def bin_retention_enforce(*, now=None) -> int:
    """Purge documents that stayed in a bin longer than ``BIN_RETENTION_DAYS`` (0: never).

    The secretariat's retention rule, applied by a Celery task; each purge is recorded
    in the group's activity like a manual one. Returns the number of documents purged.
    """
    from datetime import timedelta

    days = settings.BIN_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    purged = 0
    for document in Document.objects.filter(binned_at__lte=cutoff).select_related("group"):
        with transaction.atomic():
            pk = document.pk
            keys = list(document.versions.values_list("storage_key", flat=True))
            Document.objects.filter(pk=pk).update(current_version=None)
            document.delete()
            activity_record(
                actor=None,
                verb="document.retention_purged",
                group=document.group,
                summary=f"Document “{document.title}” purged after {days} days in the bin",
                data={"document": pk, "title": document.title, "versions": len(keys), "days": days},
            )
            transaction.on_commit(lambda keys=keys: _delete_files(keys))
        purged += 1
    return purged
