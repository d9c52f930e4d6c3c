"""Read-mostly admin: documents are changed through the portal's services, not here."""

from django.contrib import admin

from .models import Document, Folder, Keyword, RestrictedDownload, Version


class VersionInline(admin.TabularInline):
    model = Version
    fields = (
        "number",
        "original_name",
        "size",
        "sha256",
        "content_type",
        "uploaded_by",
        "uploaded_at",
        "comment",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ("title", "group", "folder", "sensitivity", "purpose", "updated_at", "binned_at")
    list_filter = ("sensitivity", "purpose", "group")
    search_fields = ("title", "description", "versions__original_name")
    readonly_fields = (
        "group",
        "created_by",
        "created_at",
        "updated_at",
        "current_version",
        "binned_at",
        "binned_by",
    )
    inlines = [VersionInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # purging deletes files too: use the portal's bin


@admin.register(Folder)
class FolderAdmin(admin.ModelAdmin):
    list_display = ("name", "group", "created_at")
    list_filter = ("group",)


admin.site.register(Keyword)


@admin.register(RestrictedDownload)
class RestrictedDownloadAdmin(admin.ModelAdmin):
    list_display = ("document", "version", "user", "confirmed_at")
    readonly_fields = ("document", "version", "user", "confirmed_at")

    def has_add_permission(self, request):
        return False
