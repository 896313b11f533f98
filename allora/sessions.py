"""The session and the signed-in user of every request, each read with one fixed statement.

Django's database sessions and its ``ModelBackend`` build and compile the same ORM query for
both on every signed-in request: about 1 ms of CPU in all, a quarter of the sign-in page's whole
cost (issue 14). The statements here are what those queries compile to; everything else (saving
a session, signing in, checking the session's password hash, permissions) is Django's own.
Settings: ``SESSION_ENGINE = "allora.sessions"`` and ``allora.sessions.UserBackend`` in
``AUTHENTICATION_BACKENDS``.
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


@cache
def _session_select(alias: str, model) -> str:
    quote = connections[alias].ops.quote_name
    column = {field.name: quote(field.column) for field in model._meta.concrete_fields}
    # The model's own table and columns, quoted by the backend; the values are parameters.
    table = quote(model._meta.db_table)
    return (
        f"SELECT {column['session_data']} FROM {table} "  # noqa: S608 -- no user input
        f"WHERE {column['session_key']} = %s AND {column['expire_date']} > %s"
    )


class SessionStore(db.SessionStore):
    """Django's database sessions; the session's row is read with a fixed statement."""

    def load(self):
        # As Django's: a missing, invalid or expired key is an empty session, the key dropped.
        row = None
        if self.session_key:
            alias = router.db_for_read(self.model)
            connection = connections[alias]
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            with connection.cursor() as cursor:
                cursor.execute(_session_select(alias, self.model), [self.session_key, now])
                row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])


@cache
def _user_select(alias: str):
    """The statement ``get(pk=…)`` compiles to, the attribute of each column it selects and the
    columns' expressions (for the converters Django applies to what the database returns)."""
    model = get_user_model()
    query = model._default_manager.db_manager(alias).filter(pk=0).order_by().query
    compiler = query.get_compiler(alias)
    sql, params = compiler.as_sql()
    if tuple(params) != (0,):  # a manager that filters more: its own query is the one to run
        raise ValueError(f"Unexpected parameters for the signed-in user's query: {params}")
    columns = [column for column, _, _ in compiler.select]
    return sql, [field.attname for field in model._meta.concrete_fields], columns


def _converted(row, columns, connection):
    """The row as the ORM gives it: each value through the backend's and the field's converters
    (SQLite's datetimes are made aware, for one), as ``SQLCompiler.apply_converters`` does."""
    row = list(row)
    for position, column in enumerate(columns):
        for convert in connection.ops.get_db_converters(column) + column.get_db_converters(
            connection
        ):
            row[position] = convert(row[position], column, connection)
    return row


def signed_in_user(user_id):
    """The user with the primary key ``user_id`` (as the session holds it), or None."""
    model = get_user_model()
    alias = router.db_for_read(model)
    sql, names, columns = _user_select(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, [model._meta.pk.get_prep_value(user_id)])
        row = cursor.fetchone()
    if row is None:
        return None
    return model.from_db(alias, names, _converted(row, columns, connection))


class UserBackend(ModelBackend):
    """Django's ``ModelBackend``; the signed-in user of each request read with a fixed
    statement (``get_user``), where Django builds ``get(pk=…)`` anew every time."""

    def get_user(self, user_id):
        user = signed_in_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
