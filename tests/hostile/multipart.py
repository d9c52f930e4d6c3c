"""A multipart/form-data body built by hand, as a hostile client sends it.

Django's test client cleans file names (``SimpleUploadedFile`` refuses ``..``
and keeps only the base name): an attacker's client does not. Names are
escaped only as the HTML standard asks browsers to (``"``, CR and LF).
"""

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class RawFile:
    name: str
    content: bytes
    content_type: str = "application/octet-stream"


def _quote(name: str) -> bytes:
    escaped = name.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    return escaped.encode("utf-8")


def encode(data: dict[str, list]) -> tuple[bytes, str]:
    """The body and its content type for ``data`` ({name: [str | RawFile, …]})."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, values in data.items():
        for value in values:
            head = b'Content-Disposition: form-data; name="' + _quote(name) + b'"'
            if isinstance(value, RawFile):
                head += b'; filename="' + _quote(value.name) + b'"'
                ctype = value.content_type.replace("\r", "").replace("\n", "")
                head += b"\r\nContent-Type: " + ctype.encode("utf-8", "replace")
                body = value.content
            else:
                body = value.encode("utf-8")
            parts.append(b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + body + b"\r\n")
    parts.append(b"--" + boundary.encode() + b"--\r\n")
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"
