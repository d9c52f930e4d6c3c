from django.urls import path

from . import views

app_name = "documents"

urlpatterns = [
    path("g/<slug:slug>/documents/", views.document_list, name="list"),
    path("g/<slug:slug>/documents/upload/", views.upload, name="upload"),
    path("g/<slug:slug>/documents/folders/", views.folder_create, name="folder_create"),
    path("g/<slug:slug>/documents/bin/", views.bin_list, name="bin_list"),
    path("g/<slug:slug>/documents/zip/", views.download_zip, name="zip"),
    path("g/<slug:slug>/documents/<int:pk>/", views.document_detail, name="detail"),
    path("g/<slug:slug>/documents/<int:pk>/versions/", views.version_add, name="version_add"),
    path("g/<slug:slug>/documents/<int:pk>/download/", views.download, name="download"),
    path(
        "g/<slug:slug>/documents/<int:pk>/versions/<int:number>/download/",
        views.download,
        name="version_download",
    ),
    path("g/<slug:slug>/documents/<int:pk>/bin/", views.document_bin, name="bin"),
    path("g/<slug:slug>/documents/<int:pk>/restore/", views.document_restore, name="restore"),
    path("g/<slug:slug>/documents/<int:pk>/purge/", views.document_purge, name="purge"),
]
