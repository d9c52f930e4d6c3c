"""The archive package of a group: its whole record in one ZIP, with a manifest.

Archiving a group (``services.group_archive``) queues a package; the
secretariat can build it again (optionally with every version of every
document) and check it against its manifest at any time. The package is built
by a Celery worker (``tasks.build_archive_package``) into a temporary file,
saved through the storage API, and only then marked ready: an interrupted run
leaves no package behind and can simply be run again.

Layout of a package (one top folder, ``<slug>-archive/``)::

    index.html                  what a person opens first
    manifest.json, SHA256SUMS   every file with its size and SHA-256
    group.json                  the group, its mandates and extension decisions
    mandates.csv, extension-requests.csv, memberships.csv, activity.csv
    documents/index.csv         every document and version in the package
    documents/<folder>/<file>   the latest version (or v<N>/… for all versions)
    meetings/meetings.csv       every meeting, with agenda and minutes as text
    meetings/<date> <title>/agenda.txt, minutes.txt, attendance.csv
    chat/transcript.txt, chat/transcript.csv
"""

import logging
import posixpath
from datetime import UTC, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from portal.packaging import PackageError, PackageWriter, build_package, delete_stored
from portal.packaging import verify_package as _verify
from portal.services import activity_record, notify

from .models import ArchivePackage, ExpertGroup, ExtensionRequest, Mandate, Membership

log = logging.getLogger(__name__)
State = ArchivePackage.State


class ArchiveError(Exception):
    """The package cannot be requested now; the message says why, for the user."""


def _require(user, group) -> None:
    if not user.has_perm("groups.manage_group", group):
        raise PermissionDenied


def _stale_before():
    return timezone.now() - timedelta(minutes=settings.ARCHIVE_STALE_MINUTES)


def _interrupted(run: ArchivePackage) -> bool:
    moment = run.heartbeat_at or run.created_at
    return run.state == State.RUNNING and moment < _stale_before()


def _mark_interrupted(run: ArchivePackage) -> None:
    ArchivePackage.objects.filter(pk=run.pk, state=State.RUNNING).update(
        state=State.FAILED,
        finished_at=timezone.now(),
        error="The run was interrupted (the worker stopped reporting progress).",
    )


# --- Writes ----------------------------------------------------------------


def archive_package_request(
    *, actor, group: ExpertGroup, include_all_versions: bool = False
) -> ArchivePackage:
    """Queue the build of a group's archive package (secretariat; archived groups only).

    Refused while another run for the group is queued or running, unless that run
    was interrupted (no progress for ``ARCHIVE_STALE_MINUTES``), which is then
    marked failed and replaced.
    """
    _require(actor, group)
    with transaction.atomic():
        group = ExpertGroup.objects.select_for_update().get(pk=group.pk)
        if group.archived_at is None:
            raise ArchiveError(
                _("Only an archived group gets an archive package. Archive it first.")
            )
        running = ArchivePackage.objects.filter(
            group=group, state__in=ArchivePackage.RUNNING_STATES
        )
        for run in running:
            if _interrupted(run):
                _mark_interrupted(run)
            else:
                raise ArchiveError(
                    _("A package of this group is being built already. Wait until it is ready.")
                )
        try:
            with transaction.atomic():
                package = ArchivePackage.objects.create(
                    group=group,
                    requested_by=actor,
                    include_all_versions=include_all_versions,
                    language=getattr(actor, "language", "") or settings.LANGUAGE_CODE,
                )
        except IntegrityError:
            raise ArchiveError(
                _("A package of this group is being built already. Wait until it is ready.")
            ) from None
        activity_record(
            actor=actor,
            verb="archive.requested",
            group=group,
            summary="Archive package requested"
            + (" with every version of every document" if include_all_versions else ""),
            data={"package": package.pk, "all_versions": bool(include_all_versions)},
        )
        transaction.on_commit(lambda: _queue_build(package.pk))
    return package


def _queue_build(package_id: int) -> None:
    from .tasks import build_archive_package

    build_archive_package.delay(package_id)


def _claim(package_id: int) -> ArchivePackage | None:
    """Take the run: queued, or running but interrupted. Two workers never both win."""
    now = timezone.now()
    claimed = (
        ArchivePackage.objects.filter(pk=package_id)
        .filter(Q(state=State.QUEUED) | Q(state=State.RUNNING, heartbeat_at__lt=_stale_before()))
        .update(
            state=State.RUNNING,
            started_at=now,
            heartbeat_at=now,
            files_done=0,
            error="",
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    # ``attempts`` identifies this run: a worker that lost the row to another one
    # (its heartbeat stopped too long) cannot mark it ready or failed any more.
    return ArchivePackage.objects.select_related("group", "requested_by").get(pk=package_id)


def archive_package_build(*, package_id: int) -> bool:
    """Build a claimed package. Returns False when there was nothing to do.

    On failure the package is marked failed with the reason, nothing is left in
    storage, and the secretariat can request it again.
    """
    package = _claim(package_id)
    if package is None:
        return False
    group = package.group
    ours = ArchivePackage.objects.filter(
        pk=package.pk, state=State.RUNNING, attempts=package.attempts
    )
    contents = _Contents(group, all_versions=package.include_all_versions)
    total = contents.file_count()
    ours.update(files_total=total)
    progress = _Progress(ours)
    try:
        with translation.override(package.language or settings.LANGUAGE_CODE):
            result = build_package(
                prefix=f"archives/{group.pk}",
                top=f"{group.slug}-archive",
                fill=contents.fill,
                on_progress=progress.step,
                on_store=progress.beat,
            )
    except Exception as exc:
        log.exception("archive package %s of %s failed", package.pk, group.slug)
        ours.update(state=State.FAILED, finished_at=timezone.now(), error=str(exc)[:2000])
        return False
    try:
        with transaction.atomic():
            still_ours = ours.update(
                state=State.READY,
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
                storage_key=result.storage_key,
                size=result.size,
                sha256=result.sha256,
                manifest_sha256=result.manifest_sha256,
                file_count=len(result.entries),
                files_done=total,
            )
            if not still_ours:
                raise PackageError("the run was taken over by another worker")
            older = list(
                ArchivePackage.objects.filter(group=group, state=State.READY).exclude(pk=package.pk)
            )
            ArchivePackage.objects.filter(pk__in=[p.pk for p in older]).update(
                state=State.SUPERSEDED
            )
            activity_record(
                actor=package.requested_by,
                verb="archive.built",
                group=group,
                summary=f"Archive package ready: {len(result.entries)} files, {result.size} bytes",
                data={
                    "package": package.pk,
                    "sha256": result.sha256,
                    "files": len(result.entries),
                    "size": result.size,
                },
            )
            for old in older:
                transaction.on_commit(lambda key=old.storage_key: delete_stored(key))
    except BaseException:
        delete_stored(result.storage_key)
        raise
    if package.requested_by is not None:
        notify(
            users=[package.requested_by],
            category="mandate",
            title=lambda: _("The archive package of %(group)s is ready") % {"group": group.name},
            url=archive_page_url(group),
        )
    return True


def archive_packages_resume() -> int:
    """Beat: queue again runs that were lost (queued long ago, or interrupted)."""
    stale = _stale_before()
    runs = ArchivePackage.objects.filter(
        Q(state=State.QUEUED, created_at__lt=stale) | Q(state=State.RUNNING, heartbeat_at__lt=stale)
    ).values_list("pk", flat=True)
    ids = list(runs)
    for pk in ids:
        _queue_build(pk)
    return len(ids)


def archive_package_verify_request(*, actor, package: ArchivePackage) -> ArchivePackage:
    """Queue a check of a finished package against its manifest (it reads the whole file)."""
    _require(actor, package.group)
    if package.state != State.READY or not package.storage_key:
        raise ArchiveError(_("Only a finished package can be checked."))
    package.verify_requested_at = timezone.now()
    package.save(update_fields=["verify_requested_at"])
    transaction.on_commit(lambda: _queue_verify(package.pk))
    return package


def _queue_verify(package_id: int) -> None:
    from .tasks import verify_archive_package

    verify_archive_package.delay(package_id)


def archive_package_verify(*, actor=None, package: ArchivePackage) -> ArchivePackage:
    """Check a ready package against its manifest and recorded hash; records the outcome."""
    if actor is not None:
        _require(actor, package.group)
    if package.state not in (State.READY, State.SUPERSEDED) or not package.storage_key:
        raise ArchiveError(_("Only a finished package can be checked."))
    outcome = _verify(storage_key=package.storage_key, sha256=package.sha256)
    package.verified_at = timezone.now()
    package.verified_ok = outcome.ok
    package.verify_report = "\n".join(outcome.problems) or (
        f"{outcome.files_checked} files match the manifest"
    )
    package.save(update_fields=["verified_at", "verified_ok", "verify_report"])
    activity_record(
        actor=actor,
        verb="archive.verified" if outcome.ok else "archive.damaged",
        group=package.group,
        summary=(
            f"Archive package checked: {outcome.files_checked} files match the manifest"
            if outcome.ok
            else f"Archive package damaged: {len(outcome.problems)} problem(s)"
        ),
        data={
            "package": package.pk,
            "files": outcome.files_checked,
            "problems": len(outcome.problems),
        },
    )
    return package


def archive_page_url(group) -> str:
    from django.urls import reverse

    return reverse("groups:archive_package", kwargs={"slug": group.slug})


class _Progress:
    """Reports files done (and that the run is alive) to the row, at most once a second."""

    def __init__(self, row):
        self.row = row  # the queryset of this run's row
        self.done = 0
        self.last = timezone.now()

    def step(self) -> None:
        self.done += 1
        self._report()

    def beat(self) -> None:
        """Called while the finished package is stored: the run is still alive."""
        self._report()

    def _report(self) -> None:
        now = timezone.now()
        if (now - self.last).total_seconds() >= 1:
            self.last = now
            self.row.update(files_done=self.done, heartbeat_at=now)


# --- Reads: what goes into the package ---------------------------------------


def _utc(value) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def _who(user) -> str:
    if user is None:
        return ""
    return user.display_name


def _folder_name(name: str) -> str:
    from documents.files import safe_filename

    return safe_filename(name, fallback="folder")


class _Contents:
    """Everything the package holds, read in a fixed number of queries per part."""

    def __init__(self, group: ExpertGroup, *, all_versions: bool):
        self.group = group
        self.all_versions = all_versions

    def _documents(self):
        from documents.models import Document

        return Document.objects.filter(
            group=self.group, binned_at__isnull=True, current_version__isnull=False
        )

    def documents(self):
        """The documents to pack, streamed in chunks (never all model rows at once)."""
        from django.db.models import Prefetch

        from documents.models import Version

        rows = (
            self._documents()
            .select_related("folder", "current_version__uploaded_by")
            .prefetch_related("keywords")
            .order_by("folder__name", "title", "pk")
        )
        if self.all_versions:
            rows = rows.prefetch_related(
                Prefetch(
                    "versions",
                    queryset=Version.objects.select_related("uploaded_by").order_by("number"),
                    to_attr="all_versions",
                )
            )
        return rows.iterator(chunk_size=200)

    def versions_of(self, document) -> list:
        return document.all_versions if self.all_versions else [document.current_version]

    def file_count(self) -> int:
        from documents.models import Version

        if self.all_versions:
            return Version.objects.filter(document__in=self._documents()).count()
        return self._documents().count()

    def fill(self, writer: PackageWriter) -> dict:
        group = self.group
        mandates = list(Mandate.objects.filter(group=group).order_by("term"))
        extensions = list(
            ExtensionRequest.objects.filter(group=group)
            .select_related("requested_by", "decided_by", "mandate")
            .order_by("requested_at")
        )
        memberships = list(
            Membership.objects.filter(group=group)
            .select_related("user", "decided_by")
            .order_by("created_at", "pk")
        )
        document_paths = self._write_documents(writer)
        meetings = self._write_meetings(writer, document_paths)
        chat_count = self._write_chat(writer)
        self._write_records(writer, mandates, extensions, memberships)
        activity_count = self._write_activity(writer)
        about = {
            "group": {"name": group.name, "slug": group.slug, "kind": group.kind},
            "generated_at": _utc(timezone.now()),
            "all_versions": self.all_versions,
            "portal": settings.SITE_URL,
        }
        writer.add_json(
            "group.json",
            {
                **about["group"],
                "summary": group.summary,
                "description": group.description,
                "standing_membership": group.standing_membership,
                "created_at": _utc(group.created_at),
                "closed_at": _utc(group.closed_at),
                "close_reason": group.close_reason,
                "archived_at": _utc(group.archived_at),
                "archived_by": _who(group.archived_by),
                "mandates": [
                    {"term": m.term, "start": m.start_date, "end": m.end_date} for m in mandates
                ],
                "extension_requests": [_extension_json(e) for e in extensions],
            },
        )
        writer.add_text(
            "index.html",
            render_to_string(
                "groups/archive/index.html",
                {
                    "group": group,
                    "generated_at": timezone.now(),
                    "mandates": mandates,
                    "extensions": extensions,
                    "memberships": memberships,
                    "documents": document_paths,
                    "meetings": meetings,
                    "chat_count": chat_count,
                    "activity_count": activity_count,
                    "all_versions": self.all_versions,
                },
            ),
        )
        return about

    def _write_documents(self, writer: PackageWriter) -> list[dict]:
        from documents.files import open_stream, safe_filename

        listed = []
        for document in self.documents():
            folder = "documents/"
            if document.folder:
                folder += _folder_name(document.folder.name) + "/"
            versions = self.versions_of(document)
            for version in versions:
                name = safe_filename(version.original_name)
                if self.all_versions:
                    stem = posixpath.splitext(safe_filename(document.title))[0] or "document"
                    path = f"{folder}{stem}/v{version.number} {name}"
                else:
                    path = folder + name
                stream = open_stream(version.storage_key)
                try:
                    entry = writer.add_stream(
                        path,
                        stream,
                        size=version.size,
                        content_type=version.content_type,
                        modified=version.uploaded_at,
                        expected_sha256=version.sha256,
                    )
                finally:
                    stream.close()
                listed.append(
                    {
                        # Plain values only: the documents themselves are not kept.
                        "id": document.pk,
                        "title": document.title,
                        "folder": document.folder.name if document.folder else "",
                        "purpose": document.purpose,
                        "sensitivity": document.sensitivity,
                        "keywords": ", ".join(k.name for k in document.keywords.all()),
                        "number": version.number,
                        "current": version.pk == document.current_version_id,
                        "file_name": version.original_name,
                        "path": entry.path,
                        "size": version.size,
                        "sha256": version.sha256,
                        "type": version.content_type,
                        "uploaded_by": _who(version.uploaded_by),
                        "uploaded_at": version.uploaded_at,
                        "comment": version.comment,
                    }
                )
        columns = [
            "id",
            "title",
            "folder",
            "purpose",
            "sensitivity",
            "keywords",
            "number",
            "current",
            "file_name",
            "path",
            "size",
            "sha256",
            "type",
            "uploaded_by",
            "uploaded_at",
            "comment",
        ]
        writer.add_csv(
            "documents/index.csv",
            [
                "document_id",
                "title",
                "folder",
                "purpose",
                "sensitivity",
                "keywords",
                "version",
                "current",
                "file_name",
                "path_in_package",
                "size",
                "sha256",
                "type",
                "uploaded_by",
                "uploaded_at_utc",
                "comment",
            ],
            (
                [
                    ("yes" if row[c] else "no")
                    if c == "current"
                    else _utc(row[c])
                    if c == "uploaded_at"
                    else row[c]
                    for c in columns
                ]
                for row in listed
            ),
        )
        return listed

    def _write_meetings(self, writer: PackageWriter, document_paths: list[dict]) -> list[dict]:
        from meetings.models import Invitee, Meeting

        paths = {row["id"]: row["path"] for row in document_paths if row["current"]}
        meetings = list(
            Meeting.objects.filter(group=self.group)
            .select_related("created_by", "agenda_document", "minutes_document")
            .order_by("starts_at", "pk")
        )
        invitees: dict[int, list] = {}
        for invitee in (
            Invitee.objects.filter(meeting__group=self.group)
            .select_related("user")
            .order_by("meeting_id", "user__full_name", "pk")
        ):
            invitees.setdefault(invitee.meeting_id, []).append(invitee)
        listed = []
        for meeting in meetings:
            local = meeting.starts_at.astimezone(_zone(meeting.timezone))
            folder = writer.unique(
                f"meetings/{local:%Y-%m-%d} {_folder_name(meeting.title)}"
            ).rstrip("/")
            if meeting.agenda:
                writer.add_text(f"{folder}/agenda.txt", meeting.agenda + "\n")
            if meeting.minutes:
                writer.add_text(f"{folder}/minutes.txt", meeting.minutes + "\n")
            people = invitees.get(meeting.pk, [])
            writer.add_csv(
                f"{folder}/attendance.csv",
                ["name", "answer", "comment", "answered_at_utc", "attendance"],
                (
                    [_who(i.user), i.answer, i.comment, _utc(i.answered_at), i.attendance]
                    for i in people
                ),
            )
            listed.append(
                {
                    "meeting": meeting,
                    "folder": folder,
                    "local_start": local,
                    "agenda_path": paths.get(meeting.agenda_document_id, ""),
                    "minutes_path": paths.get(meeting.minutes_document_id, ""),
                    "present": sum(1 for i in people if i.attendance == "present"),
                    "invited": len(people),
                }
            )
        writer.add_csv(
            "meetings/meetings.csv",
            [
                "title",
                "starts_at_utc",
                "ends_at_utc",
                "time_zone",
                "place",
                "online_link",
                "state",
                "cancel_reason",
                "invited",
                "present",
                "agenda_document",
                "minutes_document",
                "folder",
            ],
            (
                [
                    row["meeting"].title,
                    _utc(row["meeting"].starts_at),
                    _utc(row["meeting"].ends_at),
                    row["meeting"].timezone,
                    row["meeting"].place,
                    row["meeting"].online_url,
                    row["meeting"].state,
                    row["meeting"].cancel_reason,
                    row["invited"],
                    row["present"],
                    row["agenda_path"],
                    row["minutes_path"],
                    row["folder"],
                ]
                for row in listed
            ),
        )
        return listed

    def _write_chat(self, writer: PackageWriter) -> int:
        from .models import ChatMessage
        from .transcripts import transcript_csv_lines, transcript_text_lines

        count = ChatMessage.objects.filter(group=self.group).count()
        labels = {
            "title": _("Chat transcript"),
            "former": _("Former member"),
            "reply": _("(reply to #%(number)s)"),
            "deleted": _("[deleted by %(who)s on %(when)s]"),
            "edit": _("(before the edit of %(when)s: %(text)s)"),
        }
        writer.add_bytes(
            "chat/transcript.csv",
            "".join(transcript_csv_lines(self.group)).encode("utf-8"),
        )
        writer.add_text(
            "chat/transcript.txt", "".join(transcript_text_lines(self.group, UTC, labels))
        )
        return count

    def _write_records(self, writer, mandates, extensions, memberships) -> None:
        writer.add_csv(
            "mandates.csv",
            ["term", "start", "end"],
            ([m.term, m.start_date, m.end_date] for m in mandates),
        )
        writer.add_csv(
            "extension-requests.csv",
            [
                "term",
                "requested_at_utc",
                "requested_by",
                "justification",
                "decision",
                "decided_by",
                "decided_at_utc",
                "reason",
            ],
            (
                [
                    e.mandate.term,
                    _utc(e.requested_at),
                    _who(e.requested_by),
                    e.justification,
                    e.state,
                    _who(e.decided_by),
                    _utc(e.decided_at),
                    e.decision_reason,
                ]
                for e in extensions
            ),
        )
        writer.add_csv(
            "memberships.csv",
            [
                "name",
                "organisation",
                "country",
                "role",
                "state",
                "asked_or_invited_at_utc",
                "started_at_utc",
                "ended_at_utc",
                "end_reason",
                "confirmed_term",
            ],
            (
                [
                    _who(m.user),
                    m.user.organisation,
                    m.user.country.code if m.user.country else "",
                    m.role,
                    m.state,
                    _utc(m.created_at),
                    _utc(m.started_at),
                    _utc(m.ended_at),
                    m.end_reason,
                    m.confirmed_term,
                ]
                for m in memberships
            ),
        )

    def _write_activity(self, writer: PackageWriter) -> int:
        from portal.models import Activity

        rows = list(
            Activity.objects.filter(group=self.group)
            .select_related("actor")
            .order_by("created_at", "pk")
        )
        writer.add_csv(
            "activity.csv",
            ["when_utc", "who", "what", "summary"],
            ([_utc(a.created_at), _who(a.actor), a.verb, a.summary] for a in rows),
        )
        return len(rows)


def _zone(name: str):
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return UTC


def _extension_json(e: ExtensionRequest) -> dict:
    return {
        "term": e.mandate.term,
        "requested_at": _utc(e.requested_at),
        "requested_by": _who(e.requested_by),
        "justification": e.justification,
        "decision": e.state,
        "decided_by": _who(e.decided_by),
        "decided_at": _utc(e.decided_at),
        "reason": e.decision_reason,
    }


# --- Reads for the pages -----------------------------------------------------


def packages_of(group) -> list[ArchivePackage]:
    return list(
        ArchivePackage.objects.filter(group=group)
        .select_related("requested_by")
        .order_by("-created_at", "-pk")[:20]
    )


def current_package(group) -> ArchivePackage | None:
    return (
        ArchivePackage.objects.filter(group=group, state=State.READY)
        .order_by("-finished_at")
        .first()
    )


def running_package(group) -> ArchivePackage | None:
    return (
        ArchivePackage.objects.filter(group=group, state__in=ArchivePackage.RUNNING_STATES)
        .order_by("-created_at")
        .first()
    )
