"""WebSocket routes of the groups app (wrapped by portal/asgi.py in the origin and auth checks)."""

from django.urls import path

from .consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/groups/<slug:slug>/chat/", ChatConsumer.as_asgi(), name="chat"),
]
