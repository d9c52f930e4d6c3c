"""Django's Redis cache shares one connection pool per process (portal/redis_pool.py).

Django builds a cache object per async context (each HTTP request, each chat
socket under ASGI); without the shared pool each one opened its own connection.
No Redis server is needed: building a pool connects to nothing.
"""

import asyncio

from django.core.cache.backends.redis import RedisCache

from portal.redis_pool import SharedConnectionPool

OPTIONS = {"OPTIONS": {"pool_class": "portal.redis_pool.SharedConnectionPool"}}


def pool_of(cache: RedisCache):
    return cache._cache._get_connection_pool(write=True)


def test_cache_objects_of_different_requests_share_one_pool():
    first = RedisCache("redis://127.0.0.1:6379/11", OPTIONS)
    second = RedisCache("redis://127.0.0.1:6379/11", OPTIONS)
    assert first is not second
    assert isinstance(pool_of(first), SharedConnectionPool)
    assert pool_of(first) is pool_of(second)


def test_each_url_keeps_its_own_pool():
    one = RedisCache("redis://127.0.0.1:6379/11", OPTIONS)
    other = RedisCache("redis://127.0.0.1:6379/12", OPTIONS)
    assert pool_of(one) is not pool_of(other)


def test_without_the_option_each_cache_object_builds_a_pool():
    """What the option fixes: Django's default, a new pool per cache object."""
    first = RedisCache("redis://127.0.0.1:6379/11", {})
    second = RedisCache("redis://127.0.0.1:6379/11", {})
    assert pool_of(first) is not pool_of(second)


def test_the_portal_cache_in_two_async_contexts_uses_one_pool(settings):
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/13",
            **OPTIONS,
        }
    }

    async def in_a_context():
        return caches["default"]

    async def two():
        return await asyncio.gather(
            asyncio.create_task(in_a_context()), asyncio.create_task(in_a_context())
        )

    first, second = asyncio.run(two())
    assert first is not second  # Django's per-context cache objects...
    assert pool_of(first) is pool_of(second)  # ...share the process's pool
