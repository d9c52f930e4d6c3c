"""Production settings: the base settings plus what a public deployment must have.

Start with ``DJANGO_SETTINGS_MODULE=portal.settings.production``. It refuses to
start without ``DJANGO_SECRET_KEY`` and turns on HTTPS-only cookies, HSTS and
secure redirects; ``manage.py check --deploy`` is clean with it.
"""

from .base import *  # noqa: F403
from .base import env, mailers_from

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: fail loudly when missing
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
MAILERS = mailers_from(env.email_url("EMAIL_URL"))  # no default: real mail is required

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# gunicorn passes the proxy's address as REMOTE_ADDR; allauth's per-address rate
# limits (failed logins, sign-ups) read the client from X-Forwarded-For instead,
# counting this many trusted proxies from the right (docs/deployment.md).
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("PORTAL_TRUSTED_PROXY_COUNT", default=1)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
STORAGES["staticfiles"] = {  # noqa: F405
    "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
}
