from allauth.account.adapter import DefaultAccountAdapter
from django.utils import translation


class AccountAdapter(DefaultAccountAdapter):
    """Send allauth's e-mails in the recipient's own language."""

    def send_mail(self, template_prefix, email, context):
        user = context.get("user")
        language = getattr(user, "language", None) or translation.get_language()
        with translation.override(language):
            return super().send_mail(template_prefix, email, context)

    def get_login_redirect_url(self, request):
        """Someone who signed up from an invitation link lands back on the invitation."""
        return _invitation_url(request) or super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request):
        """The same after signup: with mandatory verification, allauth keeps this URL for
        the login that follows the e-mail confirmation."""
        return _invitation_url(request) or super().get_signup_redirect_url(request)


def _invitation_url(request) -> str | None:
    """The invitation whose link the person followed before signing in (groups.views)."""
    token = request.session.get("groups.invitation_token")
    if not token:
        return None
    from django.urls import reverse

    return reverse("groups:invitation", kwargs={"token": token})
