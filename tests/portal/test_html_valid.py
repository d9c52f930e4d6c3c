"""Every main page is valid HTML according to the Nu HTML Checker (vnu.jar, Java 17).

The checker comes from the npm registry (``vnu-jar``); ``.ci/run`` installs it
under ``var/tools``. Locally the test skips when Java or the jar is missing (set
PORTAL_VNU_JAR to use another copy); in CI (PORTAL_REQUIRE_SERVICES=1) it fails.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.conftest import need_service
from tests.pages import main_pages, main_pages_world

pytestmark = pytest.mark.django_db

DEFAULT_JAR = Path(settings.BASE_DIR) / "var/tools/node_modules/vnu-jar/build/dist/vnu.jar"


def vnu_jar() -> Path:
    return Path(os.environ.get("PORTAL_VNU_JAR", DEFAULT_JAR))


def test_main_pages_are_valid_html(tmp_path):
    java = shutil.which("java")
    need_service(
        java is not None and vnu_jar().is_file(),
        f"the Nu HTML Checker needs java and {vnu_jar()} (npm install --prefix var/tools vnu-jar)",
    )
    pages = tmp_path / "html"
    pages.mkdir()
    world = main_pages_world()
    client = Client()
    persona = object()
    for name, who, path in main_pages(world):
        if who != persona:
            client.logout()
            if world.get(who) is not None:
                client.force_login(world[who])
            persona = who
        response = client.get(path)
        assert response.status_code == 200, f"{name}: {path} answered {response.status_code}"
        (pages / f"{name}.html").write_bytes(response.content)

    result = subprocess.run(  # noqa: S603 (fixed arguments)
        [java, "-jar", str(vnu_jar()), "--errors-only", "--format", "json", str(pages)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    messages = json.loads(result.stderr or "{}").get("messages", [])
    problems = [
        f"{Path(m.get('url', '')).name}:{m.get('lastLine', '?')}: {m.get('message')}"
        f" — {m.get('extract', '').strip()[:80]}"
        for m in messages
        if m.get("type") in ("error", "non-document-error")
    ]
    assert not problems, "\n".join(problems)
