"""Sortable columns of the staff lists: ``?sort=name`` (ascending) or ``?sort=-name``
(descending), read through a whitelist, so a URL can never order by an arbitrary field.

Each list declares its ``Sorting``: column key -> the fields it orders by, and its default. The
primary key is added last, in the same direction, so pages never overlap and a composite index
such as ``(created_at, id)`` can be walked either way. An unknown key is ignored (the default
order), never an error. The column headers are ``{% sort_header %}`` (``allora/templatetags/
listing.py``); the CSV export of a list orders its rows the same way.

Only columns the database can sort cheaply are offered: indexed ones on the big lists, plain
columns where the page already reads every row to count it; never a per-row subquery
annotation (a customer's contact count, an agreement's current term) over the whole table."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Sorting:
    """The sortable columns of one list. ``default`` is a param such as ``"-created"``."""

    columns: dict[str, tuple[str, ...]]
    default: str

    def parse(self, params) -> "Sort":
        """The order ``params`` (``request.GET``) asks for, or the default one."""
        raw = str(params.get("sort", ""))[:40]
        if raw.removeprefix("-") not in self.columns:
            raw = self.default
        return Sort(self, key=raw.removeprefix("-"), descending=raw.startswith("-"))


@dataclass(frozen=True)
class Sort:
    sorting: Sorting
    key: str
    descending: bool = False

    @property
    def param(self) -> str:
        """The value of ``?sort=`` for this order."""
        return f"-{self.key}" if self.descending else self.key

    @property
    def is_default(self) -> bool:
        return self.param == self.sorting.default

    def order_by(self) -> list[str]:
        """The ``order_by`` fields: the column's fields, then the primary key as tiebreaker."""
        fields = [*self.sorting.columns[self.key], "pk"]
        if not self.descending:
            return fields
        return [field[1:] if field.startswith("-") else f"-{field}" for field in fields]

    def apply(self, queryset):
        return queryset.order_by(*self.order_by())
