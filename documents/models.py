"""Documents of a group: every upload of a file is a new version, never a replacement.

A ``Document`` is what people talk about ("the draft guidelines"); a ``Version``
is one file uploaded for it, kept in ``STORAGES["default"]`` under a generated
key. The user's filename is metadata only. A version row exists only once its
file is stored (the service writes the file first, then the rows).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Folder(models.Model):
    """A flat folder inside a group's documents."""

    group = models.ForeignKey(
        "groups.ExpertGroup", on_delete=models.PROTECT, related_name="document_folders"
    )
    name = models.CharField(_("name"), max_length=100)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("folder")
        verbose_name_plural = _("folders")
        constraints = [
            models.UniqueConstraint("group", Lower("name"), name="one_folder_name_per_group")
        ]

    def __str__(self) -> str:
        return self.name


class Keyword(models.Model):
    """A keyword, stored in lower case and shared across groups."""

    name = models.CharField(_("keyword"), max_length=40, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("keyword")
        verbose_name_plural = _("keywords")

    def __str__(self) -> str:
        return self.name


class Document(models.Model):
    class Sensitivity(models.TextChoices):
        NORMAL = "normal", _("Normal")
        RESTRICTED = "restricted", _("Restricted: confirm a notice before downloading")

    class Purpose(models.TextChoices):
        GENERAL = "general", _("General document")
        AGENDA = "agenda", _("Meeting agenda")
        MINUTES = "minutes", _("Meeting minutes")

    group = models.ForeignKey(
        "groups.ExpertGroup", on_delete=models.PROTECT, related_name="documents"
    )
    folder = models.ForeignKey(
        Folder,
        verbose_name=_("folder"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="documents",
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    keywords = models.ManyToManyField(
        Keyword, verbose_name=_("keywords"), blank=True, related_name="documents"
    )
    sensitivity = models.CharField(
        _("sensitivity"), max_length=20, choices=Sensitivity.choices, default=Sensitivity.NORMAL
    )
    # The meetings app links a document to a meeting as its agenda or minutes.
    purpose = models.CharField(
        _("purpose"), max_length=20, choices=Purpose.choices, default=Purpose.GENERAL
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    # When the latest version was uploaded: what "sort by date" uses.
    updated_at = models.DateTimeField(_("updated"), db_index=True)
    current_version = models.ForeignKey(
        "Version", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    binned_at = models.DateTimeField(_("moved to the bin"), null=True, blank=True)
    binned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-updated_at", "-pk"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [
            models.Index(fields=["group", "binned_at", "-updated_at"]),
            models.Index(Lower("title"), "group", name="document_title_lower"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("documents:detail", kwargs={"slug": self.group.slug, "pk": self.pk})

    @property
    def is_binned(self) -> bool:
        return self.binned_at is not None

    @property
    def is_restricted(self) -> bool:
        return self.sensitivity == self.Sensitivity.RESTRICTED


class Version(models.Model):
    """One uploaded file. Rows are never changed or replaced; purging deletes them with the file."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    storage_key = models.CharField(max_length=255, unique=True)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.BigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    content_type = models.CharField(_("type"), max_length=120)
    comment = models.TextField(_("comment"), blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        ordering = ["document", "-number"]
        verbose_name = _("version")
        verbose_name_plural = _("versions")
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="one_version_number"),
            models.CheckConstraint(condition=Q(number__gte=1), name="version_number_positive"),
            models.CheckConstraint(condition=Q(size__gt=0), name="version_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.document} v{self.number}"

    def get_download_url(self) -> str:
        return reverse(
            "documents:version_download",
            kwargs={
                "slug": self.document.group.slug,
                "pk": self.document_id,
                "number": self.number,
            },
        )


class RestrictedDownload(models.Model):
    """A user confirmed the notice of a restricted document before downloading it."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="restricted_downloads"
    )
    version = models.ForeignKey(
        Version, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    confirmed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-confirmed_at", "-pk"]
        verbose_name = _("confirmed download of a restricted document")
        verbose_name_plural = _("confirmed downloads of restricted documents")

    def __str__(self) -> str:
        return f"{self.user} confirmed {self.document}"
