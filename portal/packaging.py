"""ZIP packages built on disk piece by piece, with a manifest of every file.

Used by the group archive package and the personal data export. A package is
written to a temporary file (never held in memory), every member is hashed
while it is copied, and the result is saved through ``STORAGES["default"]``
under a generated key only once it is complete, so an interrupted run leaves
nothing behind but a temporary file that the ``finally`` removes.
"""

import contextlib
import csv
import hashlib
import io
import json
import os
import posixpath
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

CHUNK_SIZE = 1024 * 1024
MANIFEST_NAME = "manifest.json"
CHECKSUMS_NAME = "SHA256SUMS"

# Formats that are compressed already: stored as they are, deflating them wastes CPU.
COMPRESSED_TYPES = (
    "image/",
    "application/pdf",
    "application/zip",
    "application/vnd.openxmlformats",
    "application/vnd.oasis",
)


class PackageError(Exception):
    """The package could not be built; the message says why (for the log and the page)."""


@dataclass
class Entry:
    path: str
    size: int
    sha256: str


@dataclass
class PackageResult:
    storage_key: str
    size: int
    sha256: str
    manifest_sha256: str
    entries: list[Entry] = field(default_factory=list)


def _zip_time(moment: datetime | None) -> tuple:
    moment = timezone.localtime(moment) if moment else timezone.localtime()
    # ZIP stores local time from 1980 on.
    return max(moment.timetuple()[:6], (1980, 1, 1, 0, 0, 0))


def csv_bytes(header: Iterable[str], rows: Iterable[Iterable]) -> bytes:
    """CSV in UTF-8 with a byte-order mark, which spreadsheet programs need for accents."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


class PackageWriter:
    """Writes a ZIP under one top folder and keeps the manifest of what went in.

    Paths are relative to the top folder and always use "/"; names are made
    unique case-insensitively so that no member hides another on extraction.
    """

    def __init__(self, fileobj, *, top: str, on_progress: Callable[[], None] | None = None):
        self.top = top.strip("/")
        self.zip = zipfile.ZipFile(fileobj, mode="w", allowZip64=True)
        self.entries: list[Entry] = []
        self._taken: set[str] = set()
        self.on_progress = on_progress

    def unique(self, path: str) -> str:
        """``path``, or ``path (2)``… if a member of that name (any case) exists already."""
        stem, ext = posixpath.splitext(path)
        candidate, n = path, 1
        while candidate.lower() in self._taken:
            n += 1
            candidate = f"{stem} ({n}){ext}"
        self._taken.add(candidate.lower())
        return candidate

    def _info(self, path: str, *, modified, compress: bool, size: int | None) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(f"{self.top}/{path}", date_time=_zip_time(modified))
        if size is not None:
            info.file_size = size  # lets zipfile choose ZIP64 for large members up front
        if compress:
            info.compress_type = zipfile.ZIP_DEFLATED
            info.compress_level = 6
        else:
            info.compress_type = zipfile.ZIP_STORED
        return info

    def add_bytes(self, path: str, data: bytes, *, modified=None) -> Entry:
        path = self.unique(path)
        info = self._info(path, modified=modified, compress=True, size=len(data))
        self.zip.writestr(info, data)
        entry = Entry(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest())
        self.entries.append(entry)
        return entry

    def add_text(self, path: str, text: str, *, modified=None) -> Entry:
        return self.add_bytes(path, text.encode("utf-8"), modified=modified)

    def add_csv(self, path: str, header: Iterable[str], rows: Iterable[Iterable]) -> Entry:
        return self.add_bytes(path, csv_bytes(header, rows))

    def add_json(self, path: str, value) -> Entry:
        text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
        return self.add_text(path, text + "\n")

    def add_stream(
        self,
        path: str,
        stream,
        *,
        size: int | None = None,
        content_type: str = "",
        modified=None,
        expected_sha256: str | None = None,
    ) -> Entry:
        """Copy a file-like object in chunks; checks it against ``expected_sha256`` if given."""
        path = self.unique(path)
        compress = not content_type.startswith(COMPRESSED_TYPES)
        info = self._info(path, modified=modified, compress=compress, size=size)
        digest = hashlib.sha256()
        copied = 0
        with self.zip.open(info, mode="w", force_zip64=size is None) as member:
            while chunk := stream.read(CHUNK_SIZE):
                digest.update(chunk)
                member.write(chunk)
                copied += len(chunk)
        entry = Entry(path=path, size=copied, sha256=digest.hexdigest())
        if expected_sha256 and entry.sha256 != expected_sha256:
            raise PackageError(f"{path}: the stored file does not match its recorded SHA-256")
        if size is not None and size != copied:
            raise PackageError(f"{path}: the stored file has {copied} bytes, {size} recorded")
        self.entries.append(entry)
        if self.on_progress:
            self.on_progress()
        return entry

    def abort(self) -> None:
        """Close the ZIP after a failure (the temporary file is thrown away anyway)."""
        with contextlib.suppress(Exception):
            self.zip.close()

    def finish(self, *, about: dict) -> str:
        """Write the manifest and a ``sha256sum -c`` checksum list; returns the manifest hash."""
        manifest = {
            **about,
            "files": [
                {"path": e.path, "size": e.size, "sha256": e.sha256}
                for e in sorted(self.entries, key=lambda e: e.path)
            ],
        }
        checksums = "".join(
            f"{e.sha256}  {e.path}\n" for e in sorted(self.entries, key=lambda e: e.path)
        )
        text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True, default=str)
        data = (text + "\n").encode("utf-8")
        self.zip.writestr(self._info(MANIFEST_NAME, modified=None, compress=True, size=None), data)
        self.zip.writestr(
            self._info(CHECKSUMS_NAME, modified=None, compress=True, size=None),
            checksums.encode("utf-8"),
        )
        self.zip.close()
        return hashlib.sha256(data).hexdigest()


def temp_dir() -> str:
    path = settings.PACKAGE_TMP_DIR
    os.makedirs(path, exist_ok=True)
    return path


def file_sha256(fileobj) -> str:
    fileobj.seek(0)
    digest = hashlib.sha256()
    while chunk := fileobj.read(CHUNK_SIZE):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


class _HashingReader:
    """The finished ZIP as storage reads it: hashed on the way, so the file is read once
    more in all (to store it), not twice. ``on_read`` is called now and then (heartbeat).
    If the storage seeks around instead of reading straight through, the hash is
    computed again from the file."""

    def __init__(self, fileobj, path: str, on_read: Callable[[], None] | None):
        self.fileobj = fileobj
        self.name = path
        self.digest = hashlib.sha256()
        self.position = 0
        self.straight = True
        self.on_read = on_read
        self._since = 0

    def read(self, size: int = -1) -> bytes:
        data = self.fileobj.read(size)
        if self.straight:
            self.digest.update(data)
        self.position += len(data)
        self._since += len(data)
        if self.on_read and self._since >= 64 * CHUNK_SIZE:
            self._since = 0
            self.on_read()
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        target = self.fileobj.seek(offset, whence)
        if target != self.position:
            if target == 0 and self.position == 0:
                pass
            elif target == 0:
                self.digest, self.straight = hashlib.sha256(), True
            else:
                self.straight = False
        self.position = target
        return target

    def tell(self) -> int:
        return self.fileobj.tell()

    def __getattr__(self, name):
        # Everything else (closed, fileno, seekable…) is the temporary file's.
        return getattr(self.fileobj, name)

    def sha256(self, size: int) -> str:
        if self.straight and self.position == size:
            return self.digest.hexdigest()
        return file_sha256(self.fileobj)


def build_package(
    *,
    prefix: str,
    top: str,
    fill: Callable[[PackageWriter], dict],
    on_progress: Callable[[], None] | None = None,
    on_store: Callable[[], None] | None = None,
) -> PackageResult:
    """Build a ZIP with ``fill(writer)`` and save it under ``<prefix>/<uuid>.zip``.

    ``fill`` adds the members and returns what the manifest says about the
    package. The temporary file is removed whatever happens; if saving fails
    half-way, the partly stored object is deleted too.
    """
    handle, tmp_path = tempfile.mkstemp(prefix="package-", suffix=".zip", dir=temp_dir())
    key = ""
    try:
        with os.fdopen(handle, "w+b") as fileobj:
            writer = PackageWriter(fileobj, top=top, on_progress=on_progress)
            try:
                about = fill(writer)
                manifest_sha256 = writer.finish(about=about)
            except BaseException:
                writer.abort()
                raise
            fileobj.flush()
            size = fileobj.tell()
            fileobj.seek(0)
            reader = _HashingReader(fileobj, tmp_path, on_store)
            wanted = f"{prefix.strip('/')}/{uuid.uuid4().hex}.zip"
            try:
                key = default_storage.save(wanted, File(reader, name=wanted))
            except BaseException:
                delete_stored(wanted)
                raise
            sha256 = reader.sha256(size)
        return PackageResult(
            storage_key=key,
            size=size,
            sha256=sha256,
            manifest_sha256=manifest_sha256,
            entries=writer.entries,
        )
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_path)


def delete_stored(key: str) -> None:
    """Delete a stored package; a missing one is fine (deleting twice must not fail)."""
    if not key:
        return
    with contextlib.suppress(FileNotFoundError):
        default_storage.delete(key)


@dataclass
class Verification:
    ok: bool
    problems: list[str]
    files_checked: int


def verify_package(*, storage_key: str, sha256: str = "") -> Verification:
    """Check a stored package against its own manifest (and its recorded hash, if given).

    Every file the manifest lists must be present with the listed size and
    SHA-256, and nothing may be in the package that the manifest does not list.
    """
    problems: list[str] = []
    checked = 0
    try:
        stream = default_storage.open(storage_key, "rb")
    except (FileNotFoundError, OSError):
        return Verification(False, ["the package file is missing from storage"], 0)
    with stream:
        if sha256 and file_sha256(stream) != sha256:
            problems.append(
                "the package file does not match the SHA-256 recorded when it was built"
            )
        try:
            archive = zipfile.ZipFile(stream)
        except zipfile.BadZipFile:
            return Verification(False, [*problems, "the package is not a readable ZIP file"], 0)
        with archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            manifests = [n for n in names if n.endswith("/" + MANIFEST_NAME)]
            if len(manifests) != 1:
                return Verification(False, [*problems, "the package has no manifest"], 0)
            top = manifests[0][: -len(MANIFEST_NAME)]
            manifest = json.loads(archive.read(manifests[0]))
            listed = {f"{top}{item['path']}": item for item in manifest.get("files", [])}
            for name in names:
                if name not in listed and name not in (manifests[0], f"{top}{CHECKSUMS_NAME}"):
                    problems.append(f"{name[len(top) :]}: in the package but not in the manifest")
            present = set(names)
            for name, item in listed.items():
                if name not in present:
                    problems.append(f"{item['path']}: listed in the manifest but missing")
                    continue
                digest = hashlib.sha256()
                size = 0
                with archive.open(name) as member:
                    while chunk := member.read(CHUNK_SIZE):
                        digest.update(chunk)
                        size += len(chunk)
                checked += 1
                if size != item["size"] or digest.hexdigest() != item["sha256"]:
                    problems.append(f"{item['path']}: content differs from the manifest")
    return Verification(not problems, problems, checked)
