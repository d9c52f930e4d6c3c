from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/edit/", views.profile_edit, name="profile_edit"),
    path("directory/", views.directory, name="directory"),
    path("directory/<int:pk>/", views.expert_detail, name="expert_detail"),
]

urlpatterns += [
    path("me/data/", views.my_data, name="my_data"),
    path("me/data/export/", views.my_data_export, name="my_data_export"),
    path("me/data/export/<int:pk>/", views.my_data_download, name="my_data_download"),
    path("me/delete/", views.account_delete, name="account_delete"),
]
