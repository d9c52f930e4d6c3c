"""One redis-py connection pool per process and Redis URL, for Django's cache.

Django creates a ``RedisCache`` per async context: under ASGI that is one per HTTP
request and one per chat socket, and each builds its own ``ConnectionPool``, so
every request opened a new TCP connection to Redis (and the pool, a reference
cycle inside redis-py, kept it open until the next full garbage collection:
bench/chat_fanout.py's churn soak saw hundreds of idle Redis clients and memory
growing). ``CACHES["default"]["OPTIONS"]["pool_class"]`` points here.

redis-py's pools are thread-safe and reset themselves in a forked child (they
check the pid), so sharing one per process is what redis-py intends.
"""

import threading

from redis import ConnectionPool


class SharedConnectionPool(ConnectionPool):
    _shared: dict[tuple, ConnectionPool] = {}
    _lock = threading.Lock()

    @classmethod
    def from_url(cls, url, **kwargs):
        key = (url, tuple(sorted((name, repr(value)) for name, value in kwargs.items())))
        with cls._lock:
            pool = cls._shared.get(key)
            if pool is None:
                pool = cls._shared[key] = super().from_url(url, **kwargs)
        return pool
