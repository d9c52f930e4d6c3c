from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from accounts.rules import admin_has_permission, admin_mfa_required

from . import views

# The admin login goes through allauth: rate limits, verification and MFA apply.
# Every admin page also needs an enrolled TOTP authenticator, like the secretariat's
# own pages: staff without one are sent to set it up.
admin.site.login = admin_mfa_required(secure_admin_login(admin.site.login))
admin.site.has_permission = admin_has_permission(admin.site.has_permission)
admin.site.site_header = "Expert Group Portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("health/", views.health, name="health"),
    path("language/", views.language_switch, name="language_switch"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
    path("notifications/settings/", views.notification_settings, name="notification_settings"),
    path("secretariat/overview/", views.secretariat_overview, name="secretariat_overview"),
    path(
        "secretariat/overview.csv", views.secretariat_overview_csv, name="secretariat_overview_csv"
    ),
    path("", include("groups.urls")),
    path("", include("meetings.urls")),
    path("", include("documents.urls")),
    path("accounts/", include("allauth.urls")),
    path("people/", include("accounts.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "portal.views.error_403"
handler404 = "portal.views.error_404"
handler500 = "portal.views.error_500"
