"""Hostile values for forms and chat frames (Hypothesis strategies).

Text is drawn without lone surrogates (category ``Cs``): no HTTP client or
JSON encoder can send them, so they are not an input the portal can receive.
"""

import os

from hypothesis import strategies as st

#: How many times more examples each test runs under HYPOTHESIS_PROFILE=thorough.
SCALE = 25 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1


def examples(n: int) -> int:
    """``n`` examples by default, ``SCALE`` times more when thorough."""
    return n * SCALE


CHARACTERS = st.characters(blacklist_categories=("Cs",))

MALICIOUS = [
    "",
    " ",
    "   \t\n  ",
    "\x00",
    "a\x00b",
    "\x01\x02\x07\x08\x1b[31m\x7f",
    "\r\n\r\nSet-Cookie: x=1",
    "\u202egnp.exe",  # right-to-left override
    "\u200b\u200d\ufeff",  # zero-width characters and a byte-order mark
    "😀🏳️‍🌈👩🏽‍💻",
    "Ａ\u0301\u0301\u0301ﷺ",
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}{% debug %}",
    "' OR '1'='1",
    "1; DROP TABLE groups_expertgroup; --",
    "%",
    "_",
    "\\",
    "../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "%(x)s",
    "%s%s%s%n",
    "{0}",
    "{}",
    "{user.password}",
    "0",
    "-1",
    "-0",
    "1.5",
    "1e309",
    "NaN",
    "inf",
    "2147483648",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999999999999999999999",
    "2026-02-30",
    "2026-13-01",
    "9999-12-31",
    "9999-12-31T23:59",
    "0001-01-01T00:00",
    "2027-03-28T02:30",  # skipped by the change to summer time in Brussels
    "2027-10-31T02:30",  # repeated by the change back
    "2027-03-30T10:00+05:00",
    "Mars/Olympus",
    "Etc/GMT+14",
    "../../../etc/localtime",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "http://",
    "https://",
    "https://evil.example/\x00",
    "mailto:x@example.org",
    "@",
    "a@b",
    "user@[127.0.0.1]",
    "approve",
    "refuse",
    "yes",
    "on",
    "true",
    "null",
    "None",
    "[]",
    "{}",
]


@st.composite
def long_text(draw) -> str:
    """10,000 to 100,000 characters: a short hostile chunk repeated."""
    chunk = draw(st.one_of(st.sampled_from(MALICIOUS[1:]), st.text(CHARACTERS, min_size=1)))
    length = draw(st.integers(10_000, 100_000))
    return (chunk * (length // len(chunk) + 1))[:length]


HUGE_INTEGERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**63, -(2**63) - 1, 10**40, -1, 0]),
)

#: One hostile scalar, as a string (what a form post carries).
hostile_text = st.one_of(
    st.sampled_from(MALICIOUS),
    st.text(CHARACTERS, max_size=300),
    HUGE_INTEGERS.map(str),
    long_text(),
)


def hostile_value(ids: list[int] | None = None):
    """A form value: one hostile string, several (a list where a scalar is expected),
    or the id of an object of another group."""
    choices = [hostile_text, st.lists(hostile_text, min_size=2, max_size=4)]
    if ids:
        choices.append(st.sampled_from(ids).map(str))
    return st.one_of(*choices)


EXTRA_KEYS = [
    "id",
    "pk",
    "group",
    "group_id",
    "user",
    "user_id",
    "author",
    "role",
    "state",
    "slug",
    "is_staff",
    "is_superuser",
    "next",
    "__proto__",
    "a" * 1000,
]

#: Unknown keys added to a post.
extra_keys = st.dictionaries(
    st.one_of(st.sampled_from(EXTRA_KEYS), st.text(CHARACTERS, min_size=1, max_size=30)),
    hostile_value(),
    max_size=3,
)

#: Names of uploaded files.
hostile_filename = st.one_of(
    st.sampled_from(
        [
            "../../etc/passwd",
            "..\\..\\boot.ini",
            "/etc/shadow",
            "..",
            ".",
            ".htaccess",
            "con.txt",
            "report.pdf\x00.exe",
            "report\u202efdp.exe",
            "<script>alert(1)</script>.pdf",
            "%(x)s{0}.pdf",
            "a" * 300 + ".pdf",
            "😀" * 200 + ".txt",
            " ",
            "report.PDF ",
            "répertoire/sous dossier/rapport.pdf",
            "x.pdf;.exe",
            "a\"b'c.txt",
            "\r\nContent-Type: text/html.txt",
        ]
    ),
    st.text(CHARACTERS, min_size=1, max_size=200),
)

#: Contents of uploaded files.
hostile_content = st.one_of(
    st.sampled_from(
        [
            b"",
            b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
            b"MZ\x90\x00" + b"\x00" * 56 + b"PE\x00\x00" + b"\x00" * 200,
            b"\x7fELF\x02\x01\x01" + b"\x00" * 300,
            b"#!/bin/sh\nrm -rf /\n",
            b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
            b"PK\x03\x04" + b"\x00" * 100,
            b"\xff\xfe\x00\x00" * 100,
            b"\x00" * 4096,
        ]
    ),
    st.binary(max_size=2048),
)
