"""View decorators shared by the apps."""

from django.db import transaction
from django.views.decorators.http import require_GET


def read_only(view):
    """A GET-only view that writes nothing, served outside a request transaction.

    ``ATOMIC_REQUESTS`` wraps every view in a transaction: BEGIN and COMMIT, two
    more round trips to PostgreSQL per page. A view that only reads gains nothing
    from it (under READ COMMITTED each query sees its own snapshot anyway); the
    busiest pages are such views (docs/benchmarks.md, Load). A view that writes,
    even once, keeps the transaction: do not use this there.
    """
    return transaction.non_atomic_requests(require_GET(view))
