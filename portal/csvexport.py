"""CSV downloads streamed row by row, in a form spreadsheets open correctly.

A selector hands over a :class:`CsvTable` whose rows are produced lazily (usually
from ``QuerySet.iterator()``); :func:`csv_response` turns it into a streamed
attachment. The file starts with a UTF-8 byte order mark so that Excel reads
accents correctly, and text that a spreadsheet would run as a formula is
defused.
"""

import csv
import itertools
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from django.utils import timezone, translation

BOM = "\ufeff"
#: Rows rendered per trip to the database thread when serving over ASGI.
ASYNC_BATCH = 500
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class CsvTable:
    """A table to download: ``name`` becomes the start of the filename."""

    name: str
    columns: Sequence[str]
    rows: Iterable[Sequence]


class _Echo:
    """A file-like object whose ``write`` hands the line back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def spreadsheet_safe(value: str) -> str:
    """Text a spreadsheet will show instead of running as a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def cell(value) -> object:
    """One value as it goes into the file: dates in ISO form, datetimes in UTC, no None."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float):
        return value
    return spreadsheet_safe(str(value))


def csv_lines(table: CsvTable) -> Iterator[str]:
    """The file, one line at a time, byte order mark first."""
    writer = csv.writer(_Echo())
    yield BOM
    yield writer.writerow(table.columns)
    for row in table.rows:
        yield writer.writerow([cell(value) for value in row])


def _in_request_context(lines: Iterator[str]) -> Generator[str]:
    """Keep the request's language and time zone while the rows are produced.

    The rows are read after the view has returned, when the middleware may no
    longer hold them active; both are taken now, while the view runs.
    """
    language = translation.get_language()
    zone = timezone.get_current_timezone()

    def produce() -> Generator[str]:
        with translation.override(language), timezone.override(zone):
            yield from lines

    return produce()


async def _async_lines(lines: Generator[str]):
    """Serve a synchronous line iterator to an ASGI server without buffering the whole file.

    Django would otherwise read a synchronous iterator to the end before sending
    anything under ASGI. Each batch is produced in the request's sync thread, where
    the database connection (and its cursor) lives.
    """
    batch = ASYNC_BATCH
    take = sync_to_async(lambda: "".join(itertools.islice(lines, batch)), thread_sensitive=True)
    try:
        while chunk := await take():
            yield chunk
    finally:
        # Also when the client went away: release the database cursor in its thread.
        await sync_to_async(lines.close, thread_sensitive=True)()


def csv_response(request, table: CsvTable, *, day: date | None = None) -> StreamingHttpResponse:
    """A streamed ``<name>-<date>.csv`` attachment of the table."""
    lines = _in_request_context(csv_lines(table))
    content = _async_lines(lines) if isinstance(request, ASGIRequest) else lines
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    day = day or timezone.localdate()
    filename = f"{table.name}-{day.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
