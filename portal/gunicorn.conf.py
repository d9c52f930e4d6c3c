"""gunicorn settings for serving the portal's pages over WSGI (docs/deployment.md).

Pages are short request/response work and go to gunicorn; WebSockets (the chat)
need ASGI and go to uvicorn, the reverse proxy sends ``/ws/`` there. Under WSGI a
page skips Django's ASGI handler and its thread hand-offs.

Sync workers, one request at a time each: a free worker takes the next
connection from the shared listening socket, so no request waits behind
another while a process is idle (with keep-alive or threads, connections stay
with one process, and bench/load_pages.py measured twice the p95). The reverse
proxy in front buffers slow clients and keeps their connections alive.
"""

import os

wsgi_app = "portal.wsgi:application"
worker_class = "sync"
# One per core plus one, to compute while another waits for PostgreSQL. On 2 cores,
# bench/load_pages.py measured p95 84 ms (2 workers), 73 ms (3) and 120 ms (4): more
# workers than that share the cores and every request takes longer.
workers = int(os.environ.get("PORTAL_WEB_WORKERS", str((os.cpu_count() or 1) + 1)))
accesslog = None
timeout = 30
graceful_timeout = 20
