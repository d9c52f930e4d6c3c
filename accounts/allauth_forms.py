"""Forms built on allauth's own.

Kept apart from ``accounts.forms``: allauth imports that module (our signup form
class) while it is still building ``allauth.account.forms``.
"""

from allauth.account.forms import ResetPasswordForm
from django import forms


class QuietResetPasswordForm(ResetPasswordForm):
    """Password reset that never tells whether an address has an account.

    Signup reveals it (``ACCOUNT_PREVENT_ENUMERATION = False``, so people get a clear
    message at the field); this form keeps the reset form as quiet as allauth's
    enumeration prevention would: an unknown address gets the same "check your inbox"
    page, and allauth's "no account with this address" e-mail.
    """

    def clean_email(self) -> str:
        self.users = None
        try:
            return super().clean_email()
        except forms.ValidationError:
            if self.users != []:  # a refusal other than "unknown address" (set by allauth)
                raise
            return self.cleaned_data["email"]
