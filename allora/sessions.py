"""The session and the signed-in user of every request, each read with one fixed statement.

Django's database sessions and its ``ModelBackend`` build and compile the same ORM query for
both on every signed-in request: about 1 ms of CPU in all, a quarter of the sign-in page's whole
cost (issue 14). Here each query is compiled by the ORM once, then run with the request's values;
everything else (saving a session, signing in, checking the session's password hash,
permissions) is Django's own. Settings: ``SESSION_ENGINE = "allora.sessions"`` and
``allora.sessions.UserBackend`` in ``AUTHENTICATION_BACKENDS``.
"""

import datetime as dt
from functools import cache
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone

# Stand-ins for the values a statement is compiled with; each run passes its own.
_KEY = "k" * 32
_NOW = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class _Statement(NamedTuple):
    sql: str
    columns: list  # the selected columns' expressions, for their converters

    @classmethod
    def of(cls, queryset, params) -> "_Statement":
        """What ``queryset`` compiles to, which must take ``params`` (the stand-ins) in order:
        a manager that filters more has its own query, and that one is the one to run."""
        compiler = queryset.query.get_compiler(queryset.db)
        sql, compiled = compiler.as_sql()
        if tuple(compiled) != tuple(params):
            raise ValueError(f"Unexpected parameters for {queryset.model.__name__}: {compiled}")
        return cls(sql, [column for column, _, _ in compiler.select])

    def fetch_one(self, alias, params):
        """The row, as the ORM gives it: each value through the backend's and the field's
        converters (SQLite's datetimes are made aware, for one), as
        ``SQLCompiler.apply_converters`` does. None when there is none."""
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for position, column in enumerate(self.columns):
            converters = connection.ops.get_db_converters(column)
            for convert in converters + column.get_db_converters(connection):
                row[position] = convert(row[position], column, connection)
        return row


@cache
def _session_statement(alias: str, model) -> _Statement:
    """``get(session_key=…, expire_date__gt=now)``'s statement, for the session's data."""
    probe = model.objects.db_manager(alias).filter(session_key=_KEY).filter(expire_date__gt=_NOW)
    now = connections[alias].ops.adapt_datetimefield_value(_NOW)
    return _Statement.of(probe.order_by().values_list("session_data"), (_KEY, now))


class SessionStore(db.SessionStore):
    """Django's database sessions; the session's row is read with a fixed statement."""

    def load(self):
        # As Django's: a missing, invalid or expired key is an empty session, the key dropped.
        row = None
        if self.session_key:
            alias = router.db_for_read(self.model)
            now = connections[alias].ops.adapt_datetimefield_value(timezone.now())
            statement = _session_statement(alias, self.model)
            row = statement.fetch_one(alias, [self.session_key, now])
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])


@cache
def _user_statement(alias: str) -> tuple[_Statement, list[str]]:
    """``get(pk=…)``'s statement, and the attribute of each column it selects."""
    model = get_user_model()
    probe = model._default_manager.db_manager(alias).filter(pk=0).order_by()
    return _Statement.of(probe, (0,)), [field.attname for field in model._meta.concrete_fields]


def signed_in_user(user_id):
    """The user with the primary key ``user_id`` (as the session holds it), or None."""
    model = get_user_model()
    alias = router.db_for_read(model)
    statement, names = _user_statement(alias)
    row = statement.fetch_one(alias, [model._meta.pk.get_prep_value(user_id)])
    return None if row is None else model.from_db(alias, names, row)


class UserBackend(ModelBackend):
    """Django's ``ModelBackend``; the signed-in user of each request read with a fixed
    statement (``get_user``), where Django builds ``get(pk=…)`` anew every time."""

    def get_user(self, user_id):
        user = signed_in_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
