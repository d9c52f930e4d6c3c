from django.urls import path

from . import views

app_name = "groups"

urlpatterns = [
    path("g/<slug:slug>/about/", views.public_detail, name="public_detail"),
    path("g/<slug:slug>/", views.detail, name="detail"),
    path("g/<slug:slug>/members/", views.members, name="members"),
    path("g/<slug:slug>/activity/", views.activity, name="activity"),
    path("g/<slug:slug>/join/", views.join, name="join"),
    path("g/<slug:slug>/leave/", views.leave, name="leave"),
    path("g/<slug:slug>/confirm-term/", views.confirm_term, name="confirm_term"),
    path("g/<slug:slug>/invite/", views.invite, name="invite"),
    path(
        "g/<slug:slug>/members/<int:pk>/<str:action>/",
        views.membership_action,
        name="membership_action",
    ),
    path("g/<slug:slug>/extension/", views.extension_request, name="extension_request"),
    path("g/<slug:slug>/edit/", views.edit, name="edit"),
    path("g/<slug:slug>/close/", views.close, name="close"),
    path("g/<slug:slug>/archive/", views.archive, name="archive"),
    path("g/<slug:slug>/appoint/", views.appoint, name="appoint"),
    path("invitation/<str:token>/", views.invitation, name="invitation"),
    path("secretariat/", views.secretariat_dashboard, name="secretariat_dashboard"),
    path("secretariat/groups/new/", views.create, name="create"),
    path("secretariat/extensions/<int:pk>/", views.extension_decide, name="extension_decide"),
    path("secretariat/audit/", views.audit, name="audit"),
    path("secretariat/exports/groups.csv", views.export_groups, name="export_groups"),
    path("secretariat/exports/mandates.csv", views.export_mandates, name="export_mandates"),
    path(
        "secretariat/exports/memberships.csv",
        views.export_memberships,
        name="export_memberships",
    ),
]

from . import chat_views  # noqa: E402

urlpatterns += [
    path("g/<slug:slug>/chat/", chat_views.chat_room, name="chat"),
    path("g/<slug:slug>/chat/history/", chat_views.chat_history, name="chat_history"),
    path("g/<slug:slug>/chat/post/", chat_views.chat_post, name="chat_post"),
    path("g/<slug:slug>/chat/export/", chat_views.chat_export, name="chat_export"),
]

from . import archive_views  # noqa: E402

urlpatterns += [
    path("g/<slug:slug>/package/", archive_views.archive_package, name="archive_package"),
    path(
        "g/<slug:slug>/package/status/",
        archive_views.archive_package_status,
        name="archive_package_status",
    ),
    path(
        "g/<slug:slug>/package/rebuild/",
        archive_views.archive_package_rebuild,
        name="archive_package_rebuild",
    ),
    path(
        "g/<slug:slug>/package/<int:pk>/check/",
        archive_views.archive_package_check,
        name="archive_package_check",
    ),
    path(
        "g/<slug:slug>/package/<int:pk>/download/",
        archive_views.archive_package_download,
        name="archive_package_download",
    ),
]
