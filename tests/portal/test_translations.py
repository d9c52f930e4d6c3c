"""Every user-facing string is translated into French and German.

The catalogues are regenerated from the code into a copy (``makemessages``), so a
string added to the code without a translation fails this test, as does an
entry left untranslated or fuzzy.
"""

import shutil
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from tests.conftest import need_service

LANGUAGES = ["fr", "de"]


def untranslated(po: Path) -> list[str]:
    """msgids of entries that are empty or fuzzy (a small reader of the PO format)."""
    problems, entry = [], {"flags": "", "msgid": None, "msgstr": []}

    def finish():
        if entry["msgid"] not in (None, "") and (
            "fuzzy" in entry["flags"] or not any(s for s in entry["msgstr"])
        ):
            problems.append(entry["msgid"])

    current = None
    for line in po.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            finish()
            entry, current = {"flags": "", "msgid": None, "msgstr": []}, None
        elif line.startswith("#,"):
            entry["flags"] += line
        elif line.startswith("#"):
            continue
        elif line.startswith("msgid "):
            entry["msgid"], current = line[7:-1], "msgid"
        elif line.startswith("msgid_plural "):
            current = "plural"
        elif line.startswith("msgstr"):
            entry["msgstr"].append(line.split(" ", 1)[1][1:-1])
            current = "msgstr"
        elif line.startswith('"'):
            if current == "msgid":
                entry["msgid"] += line[1:-1]
            elif current == "msgstr":
                entry["msgstr"][-1] += line[1:-1]
    return problems


def test_every_string_of_the_code_is_translated(tmp_path):
    need_service(shutil.which("xgettext") is not None, "GNU gettext (xgettext) is not installed")
    copy = tmp_path / "locale"
    shutil.copytree(Path(settings.BASE_DIR) / "locale", copy)

    with override_settings(LOCALE_PATHS=[copy]):
        call_command(
            "makemessages",
            locale=LANGUAGES,
            ignore_patterns=[".venv/*", "var/*", "tests/*", "bench/*", "locale/*"],
            verbosity=0,
        )
    missing = {lang: untranslated(copy / lang / "LC_MESSAGES" / "django.po") for lang in LANGUAGES}
    report = "\n".join(
        f"{lang}: {len(ids)} untranslated or fuzzy, e.g. {ids[:5]}"
        for lang, ids in missing.items()
        if ids
    )
    assert not report, report + "\nRun makemessages -l fr -l de and translate the new entries."
