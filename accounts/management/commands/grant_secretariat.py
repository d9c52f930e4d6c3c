from allauth.mfa.models import Authenticator
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import secretariat_grant, secretariat_revoke


class Command(BaseCommand):
    help = (
        "Make an account secretariat staff (member of the Secretariat group, staff flag set), "
        "or take it out again with --revoke."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="e-mail address of the account")
        parser.add_argument(
            "--revoke", action="store_true", help="remove the account from the secretariat"
        )

    def handle(self, *args, email, revoke, **options):
        try:
            user = User.objects.get(email__iexact=email.strip())
        except User.DoesNotExist:
            raise CommandError(f"No account with the e-mail address {email}.") from None
        try:
            if revoke:
                changed = secretariat_revoke(user=user)
                done, unchanged = "left the secretariat", "was not in the secretariat"
            else:
                changed = secretariat_grant(user=user)
                done, unchanged = "joined the secretariat", "is already in the secretariat"
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        except Group.DoesNotExist:
            raise CommandError(
                "The Secretariat group is missing: run `manage.py migrate`."
            ) from None
        self.stdout.write(
            self.style.SUCCESS(f"{user.email} {done}.")
            if changed
            else f"{user.email} {unchanged}; nothing changed."
        )
        if (
            not revoke
            and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        ):
            self.stdout.write(
                self.style.WARNING(
                    "They have no authenticator app yet: secretariat pages and the admin "
                    "stay closed until they set up two-factor authentication."
                )
            )
