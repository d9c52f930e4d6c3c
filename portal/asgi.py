"""ASGI entry point: HTTP through Django, WebSocket through Channels.

WebSocket routes are wrapped in ``AllowedHostsOriginValidator`` and the auth
middleware stack, so consumers see ``scope["user"]`` and cross-site sockets
are refused before they reach a consumer. HTTP goes through
``RequestBodyLimit`` first: Django spools a whole request body to a temporary
file before any middleware runs, so bodies over ``REQUEST_MAX_BYTES`` are
answered 413 before they reach it.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from documents.limits import RequestBodyLimit  # noqa: E402
from portal.routing import websocket_urlpatterns  # noqa: E402
from portal.runtime import tune_gc  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)


tune_gc()
