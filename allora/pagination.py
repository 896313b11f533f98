"""A paginator for lists that grow without bound (the upcoming visits: 180,000 at 10,000
agreements), which counts at most `cap` rows instead of all of them; a page's slice of its list,
for the lists that read their page's rows themselves (a `Read`'s shape)."""

from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import QuerySet


class CappedPaginator(Paginator):
    """Counts up to ``cap`` objects (one bounded COUNT over a LIMIT); past that the list says
    "Page 1 of 20+" and its filters narrow it."""

    def __init__(self, object_list, per_page, *, cap, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.cap = cap

    @cached_property
    def found(self) -> int:
        """How many there are, up to cap + 1: a queryset's bounded COUNT, or the length of a
        list already counted (``range(n)``: the count a `statements.CountRead` gave)."""
        head = self.object_list[: self.cap + 1]
        return head.count() if isinstance(head, QuerySet) else len(head)

    @property
    def capped(self) -> bool:
        return self.found > self.cap

    @cached_property
    def count(self) -> int:
        return min(self.found, self.cap)


def page_slice(page) -> tuple[int, int]:
    """The page's rows as a slice of the list, [first, last) (0, 0: an empty list)."""
    return max(page.start_index() - 1, 0), page.end_index()
