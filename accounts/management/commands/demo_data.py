from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET, demo_people


class Command(BaseCommand):
    help = "Create the demo accounts and groups (safe to run again)."

    def handle(self, *args, **options):
        people = demo_people()
        extra = []
        try:
            from groups.demo import demo_groups
        except ImportError:
            demo_groups = None
        if demo_groups is not None:
            extra = demo_groups()
        self.stdout.write(self.style.SUCCESS("\nDemo data is ready.\n"))
        self.stdout.write(f"  Portal:   {settings.SITE_URL}/\n")
        self.stdout.write(f"  Password for every demo account: {DEMO_PASSWORD}\n")
        for email, role in people:
            self.stdout.write(f"    {role:<12} {email}\n")
        self.stdout.write(
            f"  The secretariat account has two-factor authentication: add the secret\n"
            f"  {DEMO_TOTP_SECRET} to an authenticator app to get its codes.\n"
        )
        for line in extra:
            self.stdout.write(f"  {line}\n")
