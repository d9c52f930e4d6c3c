"""The portal's user: an expert identified by e-mail, with a public-facing profile."""

import zoneinfo

from django.conf import settings
from django.conf.global_settings import LANGUAGES as ALL_LANGUAGES
from django.contrib.auth.models import AbstractUser, UserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

BIO_MAX_LENGTH = 1000
#: Deleted accounts get an address under this reserved domain (RFC 2606).
DELETED_EMAIL_DOMAIN = "deleted.invalid"
LANGUAGE_CHOICES = [(code, name) for code, name in ALL_LANGUAGES if "-" not in code]


def timezone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name]


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


def validate_languages(value: list) -> None:
    known = {code for code, _name in LANGUAGE_CHOICES}
    if not isinstance(value, list) or any(code not in known for code in value):
        raise ValidationError(_("Choose languages from the list."))


class PortalUserManager(UserManager):
    """Users are identified by e-mail; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class ExpertiseArea(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("area of expertise")
        verbose_name_plural = _("areas of expertise")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    username = None
    first_name = None
    last_name = None
    email = models.EmailField(_("e-mail address"), unique=True)

    full_name = models.CharField(_("full name"), max_length=150)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    country = CountryField(_("country"), blank=True)
    jurisdiction = models.CharField(
        _("jurisdiction"),
        max_length=120,
        blank=True,
        help_text=_(
            "For example Scotland, Flanders or Catalonia, where it differs from the country."
        ),
    )
    languages = models.JSONField(
        _("languages spoken"), default=list, blank=True, validators=[validate_languages]
    )
    expertise = models.ManyToManyField(
        ExpertiseArea, verbose_name=_("areas of expertise"), blank=True, related_name="experts"
    )
    timezone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Brussels", validators=[validate_timezone]
    )
    language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_("The language of the portal and of the e-mails you receive."),
    )
    bio = models.CharField(_("short bio"), max_length=BIO_MAX_LENGTH, blank=True)
    directory_visible = models.BooleanField(
        _("show my profile in the expert directory"), default=True
    )
    # Set when the person deleted their account: the row stays, anonymised, so that
    # group records (messages, documents, memberships) keep pointing somewhere.
    deleted_at = models.DateTimeField(_("account deleted on"), null=True, blank=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    objects = PortalUserManager()

    class Meta:
        ordering = ["full_name", "email"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return str(self.display_name)

    @property
    def is_former_member(self) -> bool:
        return self.deleted_at is not None

    @property
    def display_name(self) -> str:
        """How the person is named to others: "Former member" once the account is deleted."""
        if self.deleted_at is not None:
            return str(_("Former member"))
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.display_name if self.deleted_at is not None else self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class PersonalExport(models.Model):
    """A ZIP of everything the portal holds about one person, built by a worker."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting to be prepared")
        RUNNING = "running", _("Being prepared")
        READY = "ready", _("Ready to download")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired and deleted")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_exports"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    created_at = models.DateTimeField(_("requested"), auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(_("available until"), null=True, blank=True)
    storage_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("personal data export")
        verbose_name_plural = _("personal data exports")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(state__in=["queued", "running"]),
                name="one_personal_export_at_a_time",
            )
        ]

    def __str__(self) -> str:
        return f"Personal data of {self.user_id} ({self.state})"
