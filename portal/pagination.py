"""Pagination helpers shared by the apps."""

from django.core.paginator import Paginator as DjangoPaginator
from django.utils.functional import cached_property


class Paginator(DjangoPaginator):
    """Django's paginator, whose total may come from a cheaper queryset of the same rows.

    A list annotated with aggregates (``Count`` of invitees, the viewer's answer)
    is counted by Django as ``SELECT COUNT(*) FROM (<the whole annotated query>)``:
    every subquery and join built and run only to be counted. ``count_from`` is the
    same filter without the annotations; the page itself still comes from
    ``object_list``.
    """

    def __init__(self, object_list, per_page, *, count_from=None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self._count_from = count_from

    @cached_property
    def count(self) -> int:
        if self._count_from is None:
            return DjangoPaginator.count.func(self)
        return self._count_from.count()
