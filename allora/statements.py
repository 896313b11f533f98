"""Reads a page makes on every request, built and compiled by the ORM once per process.

Django builds and compiles a queryset anew each time it runs: about 1 ms of CPU for a page's
typical read, where the database answers in a tenth of that (issue 14: a home page's nine reads
cost more than the whole sign-in page). A `Read` is a queryset of fixed shape whose only varying
parts are a few named values (today, a customer's id): the ORM builds and compiles it once per
database, with stand-in values, and every call runs that SQL with the caller's values. Rows come
back as the queryset's own would: Django's own iterable reads them (model instances with their
``select_related`` rows and annotations, or ``values_list`` tuples, through the converters).

What may vary is checked when the read is first compiled: the SQL is compiled twice, with two
sets of stand-ins, and must be the same text, each varying parameter must be exactly one named
value as the ORM passes it, and every name must be used. A value worked out from the names
inside ``build`` (``today + 90 days``) or a list of varying length would give a different
statement; it is refused (pass it as a value of its own), never run with stale values.
"""

import copy
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Func, IntegerField

# Two sets of stand-ins per kind of value: unlike any real value, and unlike each other.
_STAND_INS: dict[type, Callable[[int, int], Any]] = {
    dt.date: lambda n, s: dt.date(1901 + s, 1, 3 + s) + dt.timedelta(days=37 * n),
    dt.datetime: lambda n, s: (
        dt.datetime(1901 + s, 1, 3 + s, 7, 11, tzinfo=dt.UTC) + dt.timedelta(days=37 * n)
    ),
    int: lambda n, s: 987_650_000 + 100 * s + n,
    str: lambda n, s: f"allora-stand-in-{s}-{n}",
}


def _adapter(kind, connection) -> Callable[[Any], Any]:
    """How the ORM passes a value of ``kind`` to the database (a date is text in SQLite)."""
    if kind is dt.datetime:
        return connection.ops.adapt_datetimefield_value
    if kind is dt.date:
        return connection.ops.adapt_datefield_value
    return lambda value: value


class _Compiled(NamedTuple):
    sql: str | None  # None: a read of nothing
    slots: list  # per parameter: the value's name, or None for a constant
    constants: list  # per parameter: the constant (None where a name goes)
    queryset: Any  # the stand-ins' queryset: its model, iterable and compiled query
    compiler: Any  # its compiler, as compiling left it (selected columns, related models)


class _PreparedQuery:
    """The compiled query of a `Read`, for one run: its compiler gives the run's SQL and
    values; everything else is the stand-ins' query, as the ORM's iterables read it."""

    def __init__(self, query, compiler):
        self._query = query
        self._compiler = compiler

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        return self._compiler

    def __getattr__(self, name):
        return getattr(self._query, name)


class Read:
    """``build(*shape, **values)``: the queryset (model instances, with ``select_related`` and
    annotations, or a ``values_list``; no ``prefetch_related``). ``kinds``: the type of each
    value (date, datetime, int or str). ``Read.run(shape=…, **values)`` runs it and gives what
    ``list(build(*shape, **values))`` would.

    ``shape``: what changes the SQL's text (a list's order, a page's slice), hashable; each
    shape is compiled once and kept, the last ``shapes`` of them."""

    def __init__(self, build: Callable[..., Any], *, shapes: int = 64, **kinds: type):
        unknown = [kind for kind in kinds.values() if kind not in _STAND_INS]
        if unknown:
            raise TypeError(f"A read's values are dates, datetimes, ints or strings: {unknown}")
        self.build = build
        self.kinds = kinds
        self.shapes = shapes
        self._compiled: dict[tuple, _Compiled] = {}
        self._lock = threading.Lock()
        self._model: Any = None

    def __repr__(self):
        return f"Read({self.build.__qualname__})"

    def _stand_ins(self, series: int) -> dict[str, Any]:
        return {
            name: _STAND_INS[kind](number, series)
            for number, (name, kind) in enumerate(self.kinds.items())
        }

    def _sql(self, queryset, alias):
        """(sql, params, compiler) of the queryset as the ORM compiles it; EmptyResultSet when
        it reads nothing whatever the values (a slice [0:0])."""
        compiler = queryset.query.get_compiler(alias)
        sql, params = compiler.as_sql()
        return sql, params, compiler

    def _compile(self, alias: str, shape: tuple) -> _Compiled:
        connection = connections[alias]
        compiled = []
        for series in (0, 1):
            values = self._stand_ins(series)
            queryset = self.build(*shape, **values).using(alias)
            if queryset._prefetch_related_lookups or queryset._known_related_objects:
                raise ValueError(f"{self} reads one query: no prefetch_related")
            try:
                sql, params, compiler = self._sql(queryset, alias)
            except EmptyResultSet:
                return _Compiled(None, [], [], queryset, None)
            adapted = {
                name: _adapter(self.kinds[name], connection)(value)
                for name, value in values.items()
            }
            compiled.append((sql, list(params), adapted, queryset, compiler))
        (sql, first, adapted_first, queryset, compiler), (other_sql, second, adapted_second) = (
            compiled[0],
            compiled[1][:3],
        )
        if sql != other_sql or len(first) != len(second):
            raise ValueError(f"The SQL of {self} depends on its values")
        slots: list[str | None] = []
        constants: list[Any] = []
        for one, two in zip(first, second, strict=True):
            if one == two:
                slots.append(None)
                constants.append(one)
                continue
            names = [
                name
                for name in self.kinds
                if adapted_first[name] == one and adapted_second[name] == two
            ]
            if len(names) != 1:
                raise ValueError(
                    f"{self} passes a value worked out from its values; make it a value of its own"
                )
            slots.append(names[0])
            constants.append(None)
        unused = set(self.kinds) - set(slots)
        if unused:
            raise ValueError(f"{self} does not use {sorted(unused)}")
        return _Compiled(sql, slots, constants, queryset, compiler)

    def run(self, *, shape: tuple = (), using: str | None = None, **values) -> list:
        """What ``list(build(*shape, **values))`` gives (every name, each of its kind)."""
        if values.keys() != self.kinds.keys():
            raise TypeError(f"Expected the values {sorted(self.kinds)}, got {sorted(values)}")
        for name, value in values.items():
            kind = self.kinds[name]
            if not isinstance(value, kind) or (kind is dt.date and isinstance(value, dt.datetime)):
                raise TypeError(f"{name} is a {kind.__name__}: {value!r}")
        if self._model is None:
            self._model = self.build(*shape, **self._stand_ins(0)).model
        alias = using or router.db_for_read(self._model)
        compiled = self._compiled.get((alias, shape))
        if compiled is None:
            compiled = self._compile(alias, shape)
            with self._lock:  # a threaded server's requests compile side by side
                while len(self._compiled) >= self.shapes:  # the oldest shape goes
                    del self._compiled[next(iter(self._compiled))]
                self._compiled[alias, shape] = compiled
        if compiled.sql is None:
            return self._nothing()
        connection = connections[alias]
        params = tuple(
            constant if slot is None else _adapter(self.kinds[slot], connection)(values[slot])
            for slot, constant in zip(compiled.slots, compiled.constants, strict=True)
        )
        return self._rows(compiled, params, alias)

    def _nothing(self) -> list:
        return []

    def _rows(self, compiled: _Compiled, params: tuple, alias: str) -> list:
        connection = connections[alias]
        # The compiler as compiling left it, giving this run's SQL: the ORM's own iterable
        # (instances with their related rows and annotations, or tuples) reads the rows.
        compiler = copy.copy(compiled.compiler)
        compiler.as_sql = lambda *args, **kwargs: (compiled.sql, params)
        # This thread's connection: the compiling request's may be another thread's.
        compiler.connection = connection
        stand_in = compiled.queryset
        queryset = stand_in.__class__(
            model=stand_in.model, query=_PreparedQuery(stand_in.query, compiler), using=alias
        )
        queryset._iterable_class = stand_in._iterable_class
        queryset._fields = stand_in._fields
        return list(queryset)


class _Taken(Exception):
    """A count's statement, taken before it runs (`CountRead`)."""


class CountRead(Read):
    """A `Read` of ``build(*shape, **values).count()``: ``run`` gives ``[(count,)]``. The
    statement is the one Django would run for the count, taken from its cursor (and not run)
    with each set of stand-ins: for a sliced queryset, a COUNT over the slice
    (``list[:cap + 1].count()``, a count that stops at ``cap + 1``), which a queryset's own SQL
    cannot say."""

    def _sql(self, queryset, alias):
        taken = []

        def take(execute, sql, params, many, context):
            taken.append((sql, params))
            raise _Taken  # not run: the statement is all that is wanted

        connection = connections[alias]
        logged, connection.force_debug_cursor = connection.force_debug_cursor, False
        try:
            with connection.execute_wrapper(take):
                queryset.count()
        except _Taken:
            pass
        finally:
            connection.force_debug_cursor = logged
        if not taken:  # Django knew the count without a query: nothing to read
            raise EmptyResultSet
        [(sql, params)] = taken
        return sql, params, None

    def _nothing(self) -> list:
        return [(0,)]

    def _rows(self, compiled: _Compiled, params: tuple, alias: str) -> list:
        with connections[alias].cursor() as cursor:
            cursor.execute(compiled.sql, params)
            return cursor.fetchall()


def customer_user(customer_id: int):
    """A customer's user, unsaved, for a `Read` of what a customer user sees: built with the
    models' one scoping rule (``for_user``) for the customer's id as a value of the read."""
    from allora.models import Role, User

    return User(role=Role.CUSTOMER, customer_id=customer_id, is_active=True)


def counted(queryset):
    """``queryset.count()`` as a read of one row of one column, what `count()` runs: a `Read`
    gives ``[(count,)]``."""
    return queryset.order_by().values_list(Func(template="COUNT(*)", output_field=IntegerField()))


def attach(parents: list, relation: str, rows: list) -> None:
    """What ``prefetch_related(relation)`` leaves on ``parents`` (a reverse foreign key), from
    ``rows`` read by a `Read` of every parent's rows in the relation's order: each parent's
    ``<relation>.all()`` gives its rows with no query (as `agreements.models.prefetched` reads
    them too), and each row's foreign key its parent."""
    if not parents:
        return
    field = getattr(type(parents[0]), relation).rel.field  # the rows' foreign key
    by_parent: dict = {}
    for row in rows:
        by_parent.setdefault(getattr(row, field.attname), []).append(row)
    for parent in parents:
        found = by_parent.get(parent.pk, [])
        queryset = getattr(parent, relation).get_queryset()
        queryset._result_cache = found
        queryset._prefetch_done = True
        if not hasattr(parent, "_prefetched_objects_cache"):
            parent._prefetched_objects_cache = {}
        parent._prefetched_objects_cache[field.remote_field.cache_name] = queryset
        for row in found:
            field.set_cached_value(row, parent)


def staff_user():
    """An Allora staff user, unsaved, for a `Read` of what staff see (``for_user``)."""
    from allora.models import Role, User

    return User(role=Role.STAFF, is_active=True)
