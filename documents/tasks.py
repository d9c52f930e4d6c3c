"""Celery tasks for documents: thin adapters over the services."""

from celery import shared_task
from django.conf import settings

from . import services


@shared_task
def sweep_orphan_files() -> int:
    """Beat, daily: delete stored files that no version points to; returns how many.

    Files younger than ``DOCUMENT_ORPHAN_MIN_AGE_HOURS`` are left alone (an upload
    may be between storing its file and committing its rows). Safe to run twice.
    """
    return len(services.orphans_sweep(older_than_hours=settings.DOCUMENT_ORPHAN_MIN_AGE_HOURS))
