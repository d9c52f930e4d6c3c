"""Files as bytes: safe names, content sniffing, hashing, storage keys and streaming reads.

Nothing here touches the database. The type of a file is sniffed from its
content with ``puremagic`` (pure Python, no libmagic) and checked against an
allow-list; the user's filename and declared type are never trusted.
"""

import hashlib
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import puremagic
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

CHUNK_SIZE = 1024 * 1024
SNIFF_BYTES = 16 * 1024  # what the type check reads of a text file
NAME_MAX_LENGTH = 200
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

#: What may be uploaded: sniffed type → label. Anything else is refused.
ALLOWED_TYPES = {
    "application/pdf": gettext_lazy("PDF"),
    "application/msword": gettext_lazy("Word document"),
    "application/vnd.ms-excel": gettext_lazy("Excel workbook"),
    "application/vnd.ms-powerpoint": gettext_lazy("PowerPoint presentation"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": gettext_lazy(
        "Word document"
    ),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template": gettext_lazy(
        "Word template"
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": gettext_lazy(
        "Excel workbook"
    ),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template": gettext_lazy(
        "Excel template"
    ),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": gettext_lazy(
        "PowerPoint presentation"
    ),
    "application/vnd.openxmlformats-officedocument.presentationml.template": gettext_lazy(
        "PowerPoint template"
    ),
    "application/vnd.openxmlformats-officedocument.presentationml.slideshow": gettext_lazy(
        "PowerPoint slide show"
    ),
    "application/vnd.oasis.opendocument.text": gettext_lazy("OpenDocument text"),
    "application/vnd.oasis.opendocument.spreadsheet": gettext_lazy("OpenDocument spreadsheet"),
    "application/vnd.oasis.opendocument.presentation": gettext_lazy("OpenDocument presentation"),
    "application/vnd.oasis.opendocument.graphics": gettext_lazy("OpenDocument drawing"),
    "image/png": gettext_lazy("PNG image"),
    "image/jpeg": gettext_lazy("JPEG image"),
    "image/gif": gettext_lazy("GIF image"),
    "image/webp": gettext_lazy("WebP image"),
    "image/tiff": gettext_lazy("TIFF image"),
    "text/plain": gettext_lazy("Text"),
    "text/csv": gettext_lazy("CSV table"),
}

# Magic numbers of programs: refused with a specific message whatever the name says.
EXECUTABLE_MAGIC = (
    b"MZ",  # Windows/DOS executables and DLLs
    b"\x7fELF",  # Linux and Unix programs
    b"\xfe\xed\xfa\xce",  # Mach-O (32/64 bit, both byte orders, universal)
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal binary and Java class files
    b"#!",  # scripts
    b"\x00asm",  # WebAssembly
    b"dex\n",  # Android
)
EXECUTABLE_TYPES = {
    "application/x-msi",
    "application/x-msdownload",
    "application/vnd.microsoft.portable-executable",
    "application/x-executable",
    "application/x-sharedlib",
    "application/x-mach-binary",
    "application/java-archive",
    "application/vnd.android.package-archive",
    "text/x-python",
    "text/x-shellscript",
    "application/x-sh",
}


class FileRefused(ValueError):
    """The file cannot be accepted; the message says why, for the user."""


@dataclass(frozen=True)
class Inspected:
    size: int
    sha256: str
    content_type: str


def safe_filename(name: str, *, fallback: str = "document") -> str:
    """The user's filename made harmless: no path, no control characters, a sane length.

    ``../../etc/passwd`` becomes ``passwd``; a name of 1,000 characters is cut to
    ``NAME_MAX_LENGTH`` keeping its extension. The result is metadata only: files
    are stored under generated keys.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    # Path parts of either convention go; so do control and format characters
    # (including bidirectional overrides that disguise an extension).
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co"))
    name = " ".join(name.split()).strip(" .")
    if not name:
        return fallback
    if len(name) > NAME_MAX_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            name = stem[: NAME_MAX_LENGTH - len(ext) - 1].rstrip(" .") + "." + ext
        else:
            name = name[:NAME_MAX_LENGTH].rstrip(" .")
    return name or fallback


def new_storage_key(group_id: int) -> str:
    """A generated key: the user's filename never becomes a path."""
    return f"documents/{group_id}/{uuid.uuid4().hex}"


@contextmanager
def local_path(upload) -> Iterator[str]:
    """A path on local disk holding the upload's bytes (small uploads live in memory)."""
    path = getattr(upload, "temporary_file_path", None)
    if path is not None:
        yield path()
        return
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - removed in finally
        dir=settings.FILE_UPLOAD_TEMP_DIR, suffix=".upload", delete=False
    )
    try:
        with handle:
            upload.seek(0)
            for chunk in upload.chunks(CHUNK_SIZE):
                handle.write(chunk)
        yield handle.name
    finally:
        os.unlink(handle.name)
        upload.seek(0)


def _looks_like_text(head: bytes) -> bool:
    """Text in UTF-8 (or Windows-1252) without control characters other than spacing."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            try:
                text = head.decode("cp1252")
            except UnicodeDecodeError:
                return False
        else:
            text = head[: exc.start].decode("utf-8")
    return bool(text) and not CONTROL_CHARACTERS.search(text)


def _magic(path: str, head: bytes) -> list:
    """puremagic's matches. Text is judged on its first bytes only: its CSV and script
    scanners read up to a megabyte, which costs more than the rest of an upload."""
    try:
        if _looks_like_text(head):
            suffix = os.path.splitext(path)[1]
            with tempfile.NamedTemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR, suffix=suffix) as s:
                s.write(head)
                s.flush()
                return puremagic.magic_file(s.name)
        return puremagic.magic_file(path)
    except (puremagic.PureError, ValueError, OSError):
        return []


def sniff(path: str, head: bytes) -> str:
    """The content type read from the bytes; raises ``FileRefused`` unless allowed."""
    if head.startswith(EXECUTABLE_MAGIC):
        raise FileRefused(_("Programs and scripts cannot be uploaded, whatever their name."))
    matches = _magic(path, head)
    mime = matches[0].mime_type if matches else ""
    if mime in ("", "application/octet-stream") and _looks_like_text(head):
        mime = "text/plain"  # too short for the sniffer to be sure, e.g. "OK, agreed"
    if mime in EXECUTABLE_TYPES:
        raise FileRefused(_("Programs and scripts cannot be uploaded, whatever their name."))
    if "macroEnabled" in mime:
        raise FileRefused(
            _("Office files with macros cannot be uploaded. Save the file without macros first.")
        )
    if mime not in ALLOWED_TYPES:
        raise FileRefused(
            _(
                "This kind of file cannot be uploaded. Accepted: PDF, Word, Excel, PowerPoint, "
                "OpenDocument, images, plain text and CSV."
            )
        )
    return mime


def inspect(upload, *, max_bytes: int) -> Inspected:
    """Hash, measure and sniff an upload in one streamed pass; refuse what is not acceptable."""
    if upload.size is not None and upload.size > max_bytes:
        raise FileRefused(too_large_message(max_bytes))
    digest = hashlib.sha256()
    size = 0
    head = b""
    with local_path(upload) as path:
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                if not head:
                    head = chunk[:SNIFF_BYTES]
                digest.update(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise FileRefused(too_large_message(max_bytes))
        if size == 0:
            raise FileRefused(_("The file is empty."))
        content_type = sniff(path, head)
    upload.seek(0)
    return Inspected(size=size, sha256=digest.hexdigest(), content_type=content_type)


def too_large_message(max_bytes: int) -> str:
    from django.template.defaultfilters import filesizeformat

    return _("The file is larger than the limit of %(limit)s.") % {
        "limit": filesizeformat(max_bytes)
    }


# --- Reading from storage ------------------------------------------------


def is_object_storage(storage=None) -> bool:
    """S3-compatible storage (django-storages), which can sign short-lived URLs."""
    storage = storage or default_storage
    return hasattr(storage, "bucket_name") and hasattr(storage, "connection")


def open_stream(key: str, storage=None):
    """A readable binary stream of a stored file, without downloading it whole first.

    django-storages' ``S3File`` copies the object into a temporary file before the
    first read; reading the S3 response body directly streams instead.
    """
    storage = storage or default_storage
    if is_object_storage(storage):
        name = storage._normalize_name(key)
        response = storage.connection.meta.client.get_object(Bucket=storage.bucket_name, Key=name)
        return response["Body"]
    return storage.open(key, "rb")


def iter_chunks(stream, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    try:
        while chunk := stream.read(chunk_size):
            yield chunk
    finally:
        stream.close()
