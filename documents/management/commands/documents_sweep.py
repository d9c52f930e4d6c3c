from django.core.management.base import BaseCommand

from documents.services import orphans_sweep


class Command(BaseCommand):
    help = "Delete stored document files that no version points to (older than --hours)."

    def add_arguments(self, parser):
        parser.add_argument("--hours", type=int, default=24)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, hours, dry_run, **options):
        keys = orphans_sweep(older_than_hours=hours, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        for key in keys:
            self.stdout.write(f"{verb} {key}")
        self.stdout.write(f"{verb} {len(keys)} orphan file(s).")
