"""Pagination helpers shared by the apps."""

from django.core.paginator import Paginator as DjangoPaginator
from django.utils.functional import cached_property


class Paginator(DjangoPaginator):
    """Django's paginator, without a count when the list fits on its first page, and
    whose total may come from a cheaper queryset of the same rows.

    The first page is read first: if it holds fewer rows than a page, they are the
    whole list and ``SELECT COUNT(*)`` would only say how many (most groups' lists
    fit on one page).

    A list annotated with aggregates (``Count`` of invitees, the viewer's answer)
    is counted by Django as ``SELECT COUNT(*) FROM (<the whole annotated query>)``:
    every subquery and join built and run only to be counted. ``count_from`` is the
    same filter without the annotations; the page itself still comes from
    ``object_list``.
    """

    def __init__(self, object_list, per_page, *, count_from=None, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self._count_from = count_from

    def get_page(self, number):
        if number in (None, "", "1", 1) and self.allow_empty_first_page and not self.orphans:
            rows = list(self.object_list[: self.per_page])
            if len(rows) < self.per_page:
                self.__dict__["count"] = len(rows)  # what the count property would say
            # else: a full first page, and the list may go on: counted as usual, but
            # the rows already read are the first page's.
            return self._get_page(rows, 1, self)
        return super().get_page(number)

    @cached_property
    def count(self) -> int:
        if self._count_from is None:
            return DjangoPaginator.count.func(self)
        return self._count_from.count()
