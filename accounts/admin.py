from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from .models import ExpertiseArea, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "organisation", "country", "is_staff", "is_active"]
    search_fields = ["email", "full_name", "organisation"]
    list_filter = ["is_staff", "is_active", "groups", "country"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (
            _("Profile"),
            {
                "fields": (
                    "full_name",
                    "organisation",
                    "country",
                    "jurisdiction",
                    "languages",
                    "expertise",
                    "timezone",
                    "language",
                    "bio",
                    "directory_visible",
                )
            },
        ),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("email", "full_name", "password1", "password2")}),
    )
    filter_horizontal = ("groups", "expertise")

    #: Who holds which power is decided by a superuser (or ``grant_secretariat``), never by
    #: the secretariat on itself: a secretariat member may edit profiles and deactivate
    #: accounts, but not make anyone (themselves included) staff, superuser or a member
    #: of a Django group.
    POWER_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += [name for name in self.POWER_FIELDS if name not in readonly]
        return readonly

    def get_fieldsets(self, request, obj=None):
        """Without the password (and its link to the password form) for non-superusers."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or request.user.is_superuser:
            return fieldsets
        return tuple(
            (name, {**options, "fields": tuple(f for f in options["fields"] if f != "password")})
            for name, options in fieldsets
        )

    def user_change_password(self, request, id, form_url=""):
        """Only a superuser sets someone else's password: whoever sets it can then sign
        in as that person. Staff change their own through the account pages."""
        if not request.user.is_superuser:
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def has_change_permission(self, request, obj=None):
        """Only a superuser changes a superuser (e-mail, password, anything)."""
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


@admin.register(ExpertiseArea)
class ExpertiseAreaAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
