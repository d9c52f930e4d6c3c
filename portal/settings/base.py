"""Settings for the Expert Group Portal.

Everything that differs between a laptop and production is read from the
environment (django-environ). With no variable set the portal runs on the
embedded default: SQLite, in-memory channel layer, Celery's filesystem broker
and files under ``var/``. Every variable is listed in ``docs/configuration.md``.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Development key only; production.py refuses to start without DJANGO_SECRET_KEY.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me-0123456789")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("PORTAL_SITE_URL", default="http://localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "django_countries",
    "rules.apps.AutodiscoverRulesConfig",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "portal",
    "accounts",
    "groups",
    "meetings",
    "documents",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Deny by default: every view needs a login unless marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]

# --- Data -----------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process, the worker and beat share the file; IMMEDIATE
    # makes writers queue instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
elif env.bool("DATABASE_POOL", default=True):
    # A connection pool per process (psycopg_pool, Django's built-in support): under
    # ASGI each request may run in a new thread, so persistent connections (one per
    # thread) pile up until PostgreSQL refuses more, and a connection per request
    # costs a PostgreSQL backend start each time (docs/benchmarks.md, Load). A
    # pooled connection is checked before it is lent, so a restarted PostgreSQL
    # costs no more than the requests that were running at that moment.
    from psycopg_pool import ConnectionPool

    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
        "check": ConnectionPool.check_connection,
    }
else:
    # 0: a connection per request (see above for why not persistent ones).
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
            # Django builds a cache object per async context (each HTTP request,
            # each chat socket), each with its own redis-py pool: one shared pool
            # per process instead of a Redis connection opened per request.
            "OPTIONS": {"pool_class": "portal.redis_pool.SharedConnectionPool"},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # Pub/sub: a room's message crosses Redis once per web process, which fans
            # it out to its own sockets, instead of once per socket (RedisChannelLayer).
            # Delivery is at most once; a client that misses one notices the gap in
            # the numbering (or in the pong's latest_seq) and asks for it again.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "portal"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Files ----------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Canned ACLs that keep an object private. None sends no ACL: the object is then the
# bucket owner's alone, and it is the only choice (with "bucket-owner-full-control")
# that buckets with ACLs disabled accept ("bucket owner enforced", AWS's default).
PRIVATE_ACLS = {
    "": None,
    "private": "private",
    "bucket-owner-full-control": "bucket-owner-full-control",
}


def default_storage_from(env: environ.Env, var_dir: Path) -> dict:
    """``STORAGES["default"]``: S3-compatible when AWS_STORAGE_BUCKET_NAME is set, else local.

    A function so that the tests check these very options (tests/documents/test_storage.py).
    """
    bucket = env.str("AWS_STORAGE_BUCKET_NAME", default="")
    if not bucket:
        # Never under a public URL: downloads go through a permission-checking view.
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": var_dir / "files", "base_url": None},
        }
    acl = env.str("AWS_DEFAULT_ACL", default="")
    if acl not in PRIVATE_ACLS:
        raise ImproperlyConfigured(
            "AWS_DEFAULT_ACL must be empty, 'private' or 'bucket-owner-full-control'."
        )
    expire = env.int("AWS_QUERYSTRING_EXPIRE", default=60)
    if not 1 <= expire <= 604800:  # what a SigV4 signed URL allows
        raise ImproperlyConfigured("AWS_QUERYSTRING_EXPIRE must be 1 to 604800 seconds.")
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": PRIVATE_ACLS[acl],
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": expire,
            # botocore still signs URLs with the deprecated SigV2 unless told otherwise.
            "signature_version": "s3v4",
        },
    }


AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
_default_storage = default_storage_from(env, VAR_DIR)
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": env.str(
            "DJANGO_STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "tmp")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Accounts -------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Signup says at the e-mail field when an address is taken (issue 2); with True allauth
# would silently send an "account exists" e-mail instead. The password reset form stays
# quiet all the same (accounts.allauth_forms.QuietResetPasswordForm). See docs/configuration.md.
ACCOUNT_PREVENT_ENUMERATION = False
ACCOUNT_FORMS = {"reset_password": "accounts.allauth_forms.QuietResetPasswordForm"}
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupProfileForm"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Expert Group Portal] "
ACCOUNT_RATE_LIMITS = {
    "login_failed": "5/5m/ip,5/15m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "confirm_email": "1/3m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Expert Group Portal"

SECRETARIAT_GROUP = "Secretariat"

# --- Internationalisation ------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("fr", _("French")), ("de", _("German"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Europe/Brussels"

# --- E-mail ---------------------------------------------------------------


def mailers_from(email: dict) -> dict:
    """Django 6.1's MAILERS from a django-environ EMAIL_URL config."""
    backend = email["EMAIL_BACKEND"]
    options: dict = {}
    if backend.endswith("smtp.EmailBackend"):
        options = {
            "host": email.get("EMAIL_HOST") or "localhost",
            "port": email.get("EMAIL_PORT") or 25,
            "username": email.get("EMAIL_HOST_USER") or "",
            "password": email.get("EMAIL_HOST_PASSWORD") or "",
            "use_tls": bool(email.get("EMAIL_USE_TLS")),
            "use_ssl": bool(email.get("EMAIL_USE_SSL")),
            "timeout": 30,
        }
    elif backend.endswith("filebased.EmailBackend"):
        options = {"file_path": email.get("EMAIL_FILE_PATH") or str(VAR_DIR / "mail")}
    return {"default": {"BACKEND": backend, "OPTIONS": options}}


MAILERS = mailers_from(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Expert Group Portal <portal@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Background work -----------------------------------------------------

CELERY_BROKER_URL = REDIS_URL or "filesystem://"
if REDIS_URL:
    # A task a worker took but never acknowledged (the worker was killed) goes back to
    # the queue after this many seconds. Longer than any task runs in normal operation;
    # tasks are claimed in the database, so a task delivered twice does nothing twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("PORTAL_BROKER_VISIBILITY_TIMEOUT", default=3600),
        # How often a worker looks for such tasks (kombu's default is about 100 s).
        "unacked_restore_interval": env.int("PORTAL_BROKER_RESTORE_SECONDS", default=60),
        "unacked_restore_throttle": 1,
    }
if not REDIS_URL:
    _broker_dir = VAR_DIR / "celery" / "broker"
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celery" / "beat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    "mandate-reminders": {
        "task": "groups.tasks.scan_mandate_reminders",
        "schedule": env.float("PORTAL_REMINDER_SCAN_SECONDS", default=300.0),
    },
}

# --- Security -------------------------------------------------------------

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# No script reads the CSRF cookie: the token comes from the page (forms, hx-headers).
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Portal ---------------------------------------------------------------

DIRECTORY_PAGE_SIZE = 20

# Groups and mandates
MANDATE_YEARS = 2
MANDATE_EXPIRING_SOON_DAYS = env.int("PORTAL_MANDATE_EXPIRING_SOON_DAYS", default=90)
MANDATE_REMINDER_DAYS = env.list("PORTAL_MANDATE_REMINDER_DAYS", cast=int, default=[90, 30, 7])
MANDATE_START_MAX_PAST_DAYS = 365
REMINDER_SCAN_BATCH = 1000
GROUP_PAGE_SIZE = 24

# Meetings
# Reminders before a meeting starts and before a date poll closes, in minutes.
MEETING_REMINDER_MINUTES = env.list("PORTAL_MEETING_REMINDER_MINUTES", cast=int, default=[1440, 60])
MEETING_POLL_REMINDER_MINUTES = env.list("PORTAL_POLL_REMINDER_MINUTES", cast=int, default=[1440])
MEETING_MAX_HOURS = 72  # the longest meeting that can be scheduled
MEETING_FEED_PAST_DAYS = 365  # how far back a personal calendar feed goes
MEETING_PAGE_SIZE = 50
CELERY_BEAT_SCHEDULE["meeting-reminders"] = {
    "task": "meetings.tasks.scan_meeting_reminders",
    "schedule": env.float("PORTAL_MEETING_REMINDER_SCAN_SECONDS", default=120.0),
}

# --- Documents --------------------------------------------------------------

# Largest file a member may upload (checked in the browser, by the upload handler
# and by the service).
DOCUMENT_MAX_BYTES = env.int("PORTAL_DOCUMENT_MAX_MB", default=200) * 1024 * 1024
# Largest request body the web process reads: portal/asgi.py answers 413 to bigger ones
# before Django spools them to a temporary file. The upload script sends one file per
# request; the plain form (no JavaScript) sends all its files in one request. The default
# is one file plus 1 MiB for the form fields and the multipart framing.
REQUEST_MAX_BYTES = env.int(
    "PORTAL_MAX_REQUEST_MB", default=DOCUMENT_MAX_BYTES // (1024 * 1024) + 1
) * (1024 * 1024)
if REQUEST_MAX_BYTES <= DOCUMENT_MAX_BYTES:
    raise ImproperlyConfigured("PORTAL_MAX_REQUEST_MB must be larger than PORTAL_DOCUMENT_MAX_MB.")
DOCUMENT_PAGE_SIZE = 25
DOCUMENT_ZIP_MAX_FILES = env.int("PORTAL_DOCUMENT_ZIP_MAX_FILES", default=500)
# S3: redirect downloads to a short-lived signed URL (AWS_QUERYSTRING_EXPIRE seconds);
# off: the portal streams the object itself (when clients cannot reach the bucket).
DOCUMENT_S3_REDIRECT = env.bool("PORTAL_DOCUMENT_S3_REDIRECT", default=True)
FILE_UPLOAD_HANDLERS = [
    # Stops reading a file past DOCUMENT_MAX_BYTES before it is written to disk.
    "documents.uploads.SizeLimitUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Files no version points to (left by a process killed between the file and the commit)
# are deleted once a day, when they are older than this many hours.
DOCUMENT_ORPHAN_MIN_AGE_HOURS = env.int("PORTAL_DOCUMENT_ORPHAN_HOURS", default=24)
CELERY_BEAT_SCHEDULE["document-orphans"] = {
    "task": "documents.tasks.sweep_orphan_files",
    "schedule": 24 * 3600.0,
}

# --- Archive packages, personal data, retention -----------------------------

# Where packages (group archives, personal exports) are assembled before they
# are saved to storage: a local disk with room for the largest package.
PACKAGE_TMP_DIR = env.str("PORTAL_PACKAGE_TMP_DIR", default=str(VAR_DIR / "tmp" / "packages"))
# A package run whose worker has not reported progress for this long was interrupted.
ARCHIVE_STALE_MINUTES = env.int("PORTAL_ARCHIVE_STALE_MINUTES", default=15)
# Personal data exports can be downloaded for this many days, then they are deleted.
PERSONAL_EXPORT_DAYS = env.int("PORTAL_PERSONAL_EXPORT_DAYS", default=7)
# Chat of archived groups is deleted this many days after archiving (0: kept for ever).
CHAT_RETENTION_DAYS = env.int("PORTAL_CHAT_RETENTION_DAYS", default=0)
# Documents in a group's bin are purged this many days after they were binned (0: never).
BIN_RETENTION_DAYS = env.int("PORTAL_BIN_RETENTION_DAYS", default=180)
CELERY_BEAT_SCHEDULE["retention"] = {
    "task": "portal.tasks.enforce_retention",
    "schedule": env.float("PORTAL_RETENTION_SCAN_SECONDS", default=3600.0),
}
CELERY_BEAT_SCHEDULE["package-runs"] = {
    "task": "groups.tasks.resume_archive_packages",
    "schedule": 300.0,
}

# --- Notification digest ------------------------------------------------------

# The daily digest goes out once a day, at the first scan after this hour (0-23)
# in each person's own time zone.
NOTIFICATION_DIGEST_HOUR = env.int("PORTAL_DIGEST_HOUR", default=7)
if not 0 <= NOTIFICATION_DIGEST_HOUR <= 23:
    raise ImproperlyConfigured("PORTAL_DIGEST_HOUR must be an hour from 0 to 23.")
CELERY_BEAT_SCHEDULE["notification-digests"] = {
    "task": "portal.tasks.scan_notification_digests",
    "schedule": env.float("PORTAL_DIGEST_SCAN_SECONDS", default=900.0),
}
