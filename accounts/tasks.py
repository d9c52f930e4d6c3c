"""Celery tasks for accounts: thin adapters over ``personal_data``."""

from celery import shared_task

from . import personal_data


@shared_task(acks_late=True)
def build_personal_export(export_id: int) -> bool:
    """Prepare one person's data export; a second delivery does nothing."""
    return personal_data.personal_export_build(export_id=export_id)
