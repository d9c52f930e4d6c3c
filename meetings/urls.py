from django.urls import path

from . import views

app_name = "meetings"

urlpatterns = [
    path("g/<slug:slug>/meetings/", views.group_meetings, name="group_list"),
    path("g/<slug:slug>/meetings/new/", views.schedule, name="schedule"),
    path("g/<slug:slug>/meetings/<int:pk>/", views.detail, name="detail"),
    path("g/<slug:slug>/meetings/<int:pk>/edit/", views.edit, name="edit"),
    path("g/<slug:slug>/meetings/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("g/<slug:slug>/meetings/<int:pk>/answer/", views.answer, name="answer"),
    path("g/<slug:slug>/meetings/<int:pk>/attendance/", views.attendance, name="attendance"),
    path("g/<slug:slug>/meetings/<int:pk>/minutes/", views.minutes, name="minutes"),
    path("g/<slug:slug>/meetings/<int:pk>/meeting.ics", views.meeting_download, name="ics"),
    path("g/<slug:slug>/polls/new/", views.poll_create, name="poll_create"),
    path("g/<slug:slug>/polls/<int:pk>/", views.poll_detail, name="poll_detail"),
    path("g/<slug:slug>/polls/<int:pk>/vote/", views.poll_vote, name="poll_vote"),
    path("g/<slug:slug>/polls/<int:pk>/close/", views.poll_close, name="poll_close"),
    path("g/<slug:slug>/polls/<int:pk>/cancel/", views.poll_cancel, name="poll_cancel"),
    path("meetings/", views.my_meetings, name="mine"),
    path("meetings/past/", views.my_past_meetings, name="mine_past"),
    path("meetings/calendar/", views.month, name="month"),
    path("meetings/feed/", views.feed_settings, name="feed_settings"),
    path("meetings/feed/renew/", views.feed_regenerate, name="feed_regenerate"),
    path("calendar/<str:token>.ics", views.feed, name="feed"),
]
