"""Filenames, type sniffing and the streamed inspection of uploads."""

import hashlib

import pytest

from documents.files import NAME_MAX_LENGTH, FileRefused, inspect, safe_filename
from tests.documents import samples


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("C:\\Users\\anna\\Minutes 2026.docx", "Minutes 2026.docx"),
        ("bad\x00na\x1bme\r\n.txt", "badname.txt"),
        ("invoice\u202excod.pdf", "invoicexcod.pdf"),  # right-to-left override removed
        ("  spaced    out .pdf ", "spaced out .pdf"),
        ("..", "document"),
        ("", "document"),
        ("/", "document"),
        ("Café – Überblick.pdf", "Café – Überblick.pdf"),
    ],
)
def test_safe_filename_strips_paths_and_control_characters(raw, expected):
    assert safe_filename(raw) == expected


def test_a_thousand_character_filename_is_cut_but_keeps_its_extension():
    name = safe_filename("a" * 1000 + ".pdf")
    assert len(name) == NAME_MAX_LENGTH
    assert name.endswith("a.pdf")


def test_a_long_name_without_extension_is_cut():
    assert len(safe_filename("b" * 1000)) == NAME_MAX_LENGTH


ACCEPTED = [
    ("report.pdf", samples.PDF, "application/pdf"),
    ("photo.png", samples.PNG, "image/png"),
    ("notes.txt", samples.TEXT, "text/plain"),
    ("table.csv", samples.CSV, "text/csv"),
    (
        "draft.docx",
        samples.ooxml("docx"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    (
        "sheet.xlsx",
        samples.ooxml("xlsx"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    (
        "slides.pptx",
        samples.ooxml("pptx"),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("old.doc", samples.cfb(["WordDocument"]), "application/msword"),
    ("old.xls", samples.cfb(["Workbook"]), "application/vnd.ms-excel"),
    ("old.ppt", samples.cfb(["PowerPoint Document"]), "application/vnd.ms-powerpoint"),
    ("text.odt", samples.odf(), "application/vnd.oasis.opendocument.text"),
    (
        "calc.ods",
        samples.odf("application/vnd.oasis.opendocument.spreadsheet"),
        "application/vnd.oasis.opendocument.spreadsheet",
    ),
    # The name does not matter: the content does.
    ("report.exe", samples.PDF, "application/pdf"),
    (
        "no-extension",
        samples.ooxml("docx"),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
]


@pytest.mark.parametrize(("name", "content", "expected"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_allowed_types_are_sniffed_from_content(name, content, expected):
    result = inspect(samples.upload(name, content), max_bytes=10_000_000)
    assert result.content_type == expected
    assert result.size == len(content)
    assert result.sha256 == hashlib.sha256(content).hexdigest()


REFUSED = [
    ("setup.pdf", samples.EXE, "Programs"),
    ("agenda.docx", samples.ELF, "Programs"),
    ("notes.txt", samples.SCRIPT, "Programs"),
    ("installer.doc", samples.cfb(["_StringPool", "_StringData"]), "Programs"),
    ("macro.docx", samples.ooxml(macros=True), "macros"),
    ("archive.zip", samples.plain_zip(), "cannot be uploaded"),
    ("page.txt", samples.HTML, "cannot be uploaded"),
    ("empty.pdf", b"", "empty"),
]


@pytest.mark.parametrize(("name", "content", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_executables_and_unknown_types_are_refused_whatever_their_name(name, content, reason):
    with pytest.raises(FileRefused, match=reason):
        inspect(samples.upload(name, content), max_bytes=10_000_000)


def test_a_file_over_the_limit_is_refused():
    with pytest.raises(FileRefused, match="larger than the limit"):
        inspect(samples.upload("big.txt", b"x" * 2000), max_bytes=1000)
