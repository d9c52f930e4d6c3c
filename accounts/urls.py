from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/edit/", views.profile_edit, name="profile_edit"),
    path("directory/", views.directory, name="directory"),
    path("directory/<int:pk>/", views.expert_detail, name="expert_detail"),
]
