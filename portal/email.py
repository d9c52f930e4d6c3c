"""E-mails with HTML and text parts, rendered in the recipient's language."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation


def send_templated_email(*, to, template: str, context: dict, subject: str) -> None:
    """Render ``templates/email/<template>.txt`` and ``.html`` for one user and send it.

    ``subject`` is translated inside the recipient's language when lazily given.
    """
    language = getattr(to, "language", None) or settings.LANGUAGE_CODE
    with translation.override(language):
        ctx = {"user": to, "site_url": settings.SITE_URL, **context}
        text = render_to_string(f"email/{template}.txt", ctx)
        html = render_to_string(f"email/{template}.html", ctx)
        message = EmailMultiAlternatives(
            subject=settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + str(subject),
            body=text,
            to=[to.email if hasattr(to, "email") else to],
        )
        message.attach_alternative(html, "text/html")
        message.send()
