"""Small sample files of each kind, built in memory (no fixtures on disk)."""

import base64
import io
import struct
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TEXT = "Minutes of the meeting.\nEveryone agreed. Déjà vu.\n".encode()
CSV = b"name,country\nAnna,BE\nBert,NL\n"
EXE = b"MZ\x90\x00" + b"\x00" * 56 + b"PE\x00\x00" + b"\x00" * 200
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 300
SCRIPT = b"#!/bin/sh\nrm -rf /\n"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"

OOXML_MAIN = {
    "docx": ("word/document.xml", "wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml", "presentationml.presentation.main+xml"),
}


def ooxml(kind: str = "docx", *, macros: bool = False) -> bytes:
    part, ctype = OOXML_MAIN[kind]
    full = "application/vnd.openxmlformats-officedocument." + ctype
    if macros:
        full = "application/vnd.ms-word.document.macroEnabled.main+xml"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/'
            'vnd.openxmlformats-package.relationships+xml"/>'
            f'<Override PartName="/{part}" ContentType="{full}"/></Types>',
        )
        z.writestr("_rels/.rels", "<Relationships/>")
        z.writestr(part, "<x/>")
    return buf.getvalue()


def odf(mime: str = "application/vnd.oasis.opendocument.text") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), mime)
        z.writestr("content.xml", "<x/>", compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("META-INF/manifest.xml", "<x/>", compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("notes.txt", "hello")
    return buf.getvalue()


def cfb(stream_names: list[str]) -> bytes:
    """A minimal OLE2 compound file whose directory names the given streams.

    Legacy Office files (.doc, .xls, .ppt) and Windows installers (.msi) share
    this container; what tells them apart is the names of the streams inside.
    """
    header = bytearray(512)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HH", header, 24, 0x3E, 3)  # minor, major version
    struct.pack_into("<H", header, 28, 0xFFFE)  # byte order
    struct.pack_into("<HH", header, 30, 9, 6)  # sector shift (512), mini sector shift
    struct.pack_into("<i", header, 44, 1)  # number of FAT sectors
    struct.pack_into("<i", header, 48, 0)  # first directory sector
    struct.pack_into("<I", header, 56, 4096)  # mini stream cutoff
    struct.pack_into("<i", header, 60, -2)
    struct.pack_into("<i", header, 68, -2)
    struct.pack_into("<i", header, 76, 1)  # FAT in sector 1
    for i in range(1, 109):
        struct.pack_into("<i", header, 76 + 4 * i, -1)
    directory = bytearray(512)
    for index, (name, kind) in enumerate([("Root Entry", 5)] + [(n, 2) for n in stream_names]):
        entry = bytearray(128)
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        entry[: len(encoded)] = encoded
        struct.pack_into("<H", entry, 64, len(encoded))
        entry[66] = kind
        struct.pack_into("<iii", entry, 68, -1, -1, -1)
        struct.pack_into("<i", entry, 116, -2)
        directory[index * 128 : (index + 1) * 128] = entry
    fat = bytearray(b"\xff" * 512)
    struct.pack_into("<ii", fat, 0, -2, -3)  # directory chain end, FAT sector
    return bytes(header + directory + fat)


def upload(name: str = "report.pdf", content: bytes = PDF, content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)
