"""WSGI entry point: the pages, under gunicorn in production (docs/deployment.md).

WebSockets need ASGI (portal/asgi.py). ``RequestBodyLimit`` refuses a declared body
over ``REQUEST_MAX_BYTES`` before Django reads it, as the ASGI guard does.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
django_wsgi_app = get_wsgi_application()

from documents.limits import RequestBodyLimitWSGI  # noqa: E402
from portal.runtime import tune_gc  # noqa: E402

application = RequestBodyLimitWSGI(django_wsgi_app)

tune_gc()
