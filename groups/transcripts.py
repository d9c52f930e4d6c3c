"""A group's chat transcript as CSV or plain text, streamed line by line.

Used by the secretariat's chat export and by the archive package.
"""

import csv
from collections.abc import Iterator
from datetime import UTC

from . import chat


class _Echo:
    def write(self, value):
        return value


def _cell(value: str) -> str:
    """Text a spreadsheet will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _who(user) -> str:
    return user.display_name if user else ""


def transcript_csv_lines(group) -> Iterator[str]:
    """The transcript as CSV lines (UTF-8 BOM first), times in UTC."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # so that spreadsheets read the file as UTF-8
    yield writer.writerow(
        [
            "number",
            "sent_at_utc",
            "author",
            "author_email",
            "text",
            "reply_to_number",
            "edited_at_utc",
            "earlier_versions",
            "deleted_at_utc",
            "deleted_by",
        ]
    )
    for m in chat.chat_transcript(group):
        yield writer.writerow(
            [
                m.seq,
                m.created_at.astimezone(UTC).isoformat(),
                _cell(_who(m.author)),
                m.author.email if m.author else "",
                _cell(m.body),
                m.reply_to.seq if m.reply_to else "",
                m.edited_at.astimezone(UTC).isoformat() if m.edited_at else "",
                len(m.edits.all()),
                m.deleted_at.astimezone(UTC).isoformat() if m.deleted_at else "",
                _cell(_who(m.deleted_by)),
            ]
        )


def transcript_text_lines(group, tz, labels: dict) -> Iterator[str]:
    """The transcript as plain text; ``labels`` are translated before streaming starts."""

    def when(value):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    yield f"{group.name}\n{labels['title']} ({tz})\n\n"
    for m in chat.chat_transcript(group):
        head = f"[{when(m.created_at)}] #{m.seq} {_who(m.author) or labels['former']}"
        if m.reply_to:
            head += " " + labels["reply"] % {"number": m.reply_to.seq}
        if m.deleted_at:
            who = _who(m.deleted_by) or labels["former"]
            yield f"{head}: {labels['deleted'] % {'who': who, 'when': when(m.deleted_at)}}\n"
            continue
        yield head + ": " + "\n    ".join(m.body.split("\n")) + "\n"
        for edit in m.edits.all():
            earlier = "\n      ".join(edit.body.split("\n"))
            yield "    " + labels["edit"] % {"when": when(edit.edited_at), "text": earlier} + "\n"
