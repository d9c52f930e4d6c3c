"""The documents' Celery tasks: the daily sweep of stored files no version points to."""

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from documents.tasks import sweep_orphan_files
from tests.documents.factories import upload_document

pytestmark = pytest.mark.django_db


def test_beat_runs_the_orphan_sweep_once_a_day():
    entry = django_settings.CELERY_BEAT_SCHEDULE["document-orphans"]
    assert entry["task"] == sweep_orphan_files.name == "documents.tasks.sweep_orphan_files"
    assert entry["schedule"] == 24 * 3600


def test_the_task_deletes_old_orphans_and_keeps_versions_and_recent_files(world, storage, settings):
    settings.DOCUMENT_ORPHAN_MIN_AGE_HOURS = 24
    document = upload_document(world["group"], world["member"])
    orphan = default_storage.save(
        f"documents/{world['group'].pk}/orphan", ContentFile(b"left over by a crash")
    )
    # Right after the crash the file may belong to an upload in progress: kept.
    assert sweep_orphan_files.delay().get() == 0
    assert default_storage.exists(orphan)

    later = timezone.now() + timedelta(hours=25)
    with mock.patch("documents.services.timezone.now", return_value=later):
        assert sweep_orphan_files.delay().get() == 1
        assert sweep_orphan_files.delay().get() == 0  # running it again does nothing more
    assert storage.keys(settings) == {document.current_version.storage_key}


def test_the_task_leaves_files_that_vanish_while_it_runs(world, settings):
    orphan = default_storage.save(f"documents/{world['group'].pk}/orphan", ContentFile(b"x"))
    later = timezone.now() + timedelta(hours=25)
    with (
        mock.patch("documents.services.timezone.now", return_value=later),
        mock.patch.object(
            default_storage, "get_modified_time", side_effect=FileNotFoundError(orphan)
        ),
    ):
        assert sweep_orphan_files.delay().get() == 0
