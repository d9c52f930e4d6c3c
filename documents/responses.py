"""HTTP responses that hand out files: streamed, never read whole into memory.

- Local storage: a ``FileResponse`` read in chunks.
- S3-compatible storage: a redirect to a short-lived signed URL whose response
  carries ``Content-Disposition: attachment`` and the sniffed type.
- A ZIP of several documents, written on the fly to an unseekable stream with
  the standard library's ``zipfile`` (data descriptors, ZIP64 when needed):
  no archive in memory or on disk.

Under ASGI a synchronous iterator would be collected into a list before the
first byte is sent (Django's ``StreamingHttpResponse.__aiter__``), so there the
same chunks are served through an asynchronous iterator that reads each chunk
in a worker thread.
"""

import posixpath
import zipfile
from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from .files import CHUNK_SIZE, is_object_storage, iter_chunks, open_stream, safe_filename
from .models import Document, Version

# Formats that are compressed already: stored as they are, deflating them wastes CPU.
COMPRESSED_TYPES = (
    "image/",
    "application/pdf",
    "application/vnd.openxmlformats",
    "application/vnd.oasis",
)


def _secure(response):
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    read = sync_to_async(next, thread_sensitive=False)

    async def gen():
        try:
            while (chunk := await read(chunks, None)) is not None:
                yield chunk
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await sync_to_async(close, thread_sensitive=False)()

    return gen()


def _stream(request, chunks: Iterator[bytes]):
    """What a streaming response iterates: async under ASGI, plain under WSGI."""
    return _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks


def stored_file_response(request, *, key: str, filename: str, content_type: str, size: int):
    """Hand out a stored file as an attachment: redirect to a signed URL (S3) or stream it.

    The caller has checked permission; ``filename`` is only shown, never used as a path.
    """
    if is_object_storage() and settings.DOCUMENT_S3_REDIRECT:
        url = default_storage.url(
            key,
            parameters={
                "ResponseContentDisposition": content_disposition_header(
                    as_attachment=True, filename=filename
                ),
                "ResponseContentType": content_type,
                "ResponseCacheControl": "private, no-store",
            },
        )
        return _secure(HttpResponseRedirect(url))
    stream = open_stream(key)
    response = FileResponse(
        stream, as_attachment=True, filename=filename, content_type=content_type
    )
    response["Content-Length"] = str(size)
    response.streaming_content = _stream(request, iter_chunks(stream))
    return _secure(response)


def version_response(request, version: Version):
    """Download one version of a document."""
    return stored_file_response(
        request,
        key=version.storage_key,
        filename=version.original_name,
        content_type=version.content_type,
        size=version.size,
    )


def _unique_names(documents: Iterable[Document]) -> list[tuple[str, Document]]:
    """Archive paths "folder/file.ext", made unique with " (2)", " (3)"…"""
    taken: set[str] = set()
    named = []
    for document in documents:
        version = document.current_version
        folder = safe_filename(document.folder.name) + "/" if document.folder else ""
        base = safe_filename(version.original_name)
        stem, ext = posixpath.splitext(base)
        candidate, n = folder + base, 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{folder}{stem} ({n}){ext}"
        taken.add(candidate.lower())
        named.append((candidate, document))
    return named


class _Sink:
    """An unseekable output for ZipFile: it collects bytes until the generator takes them."""

    def __init__(self):
        self.buffer = bytearray()

    def write(self, data) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def zip_chunks(documents: list[Document]) -> Iterator[bytes]:
    """The ZIP of the documents' current versions, produced piece by piece."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", allowZip64=True) as archive:
        for arcname, document in _unique_names(documents):
            version = document.current_version
            info = zipfile.ZipInfo(
                arcname, date_time=timezone.localtime(version.uploaded_at).timetuple()[:6]
            )
            info.file_size = version.size  # lets zipfile choose ZIP64 for large members
            if version.content_type.startswith(COMPRESSED_TYPES):
                info.compress_type = zipfile.ZIP_STORED
            else:
                info.compress_type = zipfile.ZIP_DEFLATED
                info.compress_level = 1  # fast: the archive streams while it is written
            stream = open_stream(version.storage_key)
            try:
                with archive.open(info, mode="w") as member:
                    while chunk := stream.read(CHUNK_SIZE):
                        member.write(chunk)
                        if len(sink.buffer) >= CHUNK_SIZE:
                            yield sink.take()
            finally:
                stream.close()
            if sink.buffer:
                yield sink.take()
    yield sink.take()


def zip_response(request, documents: list[Document], *, filename: str):
    response = StreamingHttpResponse(
        _stream(request, zip_chunks(documents)), content_type="application/zip"
    )
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=filename
    )
    return _secure(response)
