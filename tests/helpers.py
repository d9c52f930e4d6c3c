from django.db import connection
from django.test.utils import CaptureQueriesContext


def count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def assert_queries_do_not_grow(fn, grow, times: int = 2) -> None:
    """Call ``fn``, grow the data with ``grow()``, call again: the query count must not change."""
    fn()  # warm caches (content types, sessions)
    before = count_queries(fn)
    for _ in range(times):
        grow()
    after = count_queries(fn)
    assert after == before, f"queries grew from {before} to {after}"
