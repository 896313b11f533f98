"""The session and the signed-in user of every request, each read with one fixed statement.

Django's database sessions and its ``ModelBackend`` build and compile the same ORM query for
both on every signed-in request: about 1 ms of CPU in all, a quarter of the sign-in page's whole
cost (issue 14). Here each query is a `Read` (allora/statements.py): compiled by the ORM once,
then run with the request's values; everything else (saving a session, signing in, checking the
session's password hash, permissions) is Django's own. Settings:
``SESSION_ENGINE = "allora.sessions"`` and ``allora.sessions.UserBackend`` in
``AUTHENTICATION_BACKENDS``.
"""

import datetime as dt
from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.utils import timezone

from .statements import Read


@cache
def _session_read(model) -> Read:
    """``get(session_key=…, expire_date__gt=now)``'s statement, for the session's data."""
    return Read(
        lambda key, now: (
            model.objects.filter(session_key=key, expire_date__gt=now)
            .order_by()
            .values_list("session_data")
        ),
        key=str,
        now=dt.datetime,
    )


class SessionStore(db.SessionStore):
    """Django's database sessions; the session's row is read with a fixed statement."""

    def load(self):
        # As Django's: a missing, invalid or expired key is an empty session, the key dropped.
        rows = []
        if self.session_key:
            rows = _session_read(self.model).run(key=self.session_key, now=timezone.now())
        if not rows:
            self._session_key = None
            return {}
        return self.decode(rows[0][0])


@cache
def _user_read() -> Read:
    """``get(pk=…)``'s statement."""
    return Read(lambda pk: get_user_model()._default_manager.filter(pk=pk).order_by(), pk=int)


def signed_in_user(user_id):
    """The user with the primary key ``user_id`` (as the session holds it), or None."""
    pk = get_user_model()._meta.pk.to_python(user_id)
    found = _user_read().run(pk=pk)
    return found[0] if found else None


class UserBackend(ModelBackend):
    """Django's ``ModelBackend``; the signed-in user of each request read with a fixed
    statement (``get_user``), where Django builds ``get(pk=…)`` anew every time."""

    def get_user(self, user_id):
        user = signed_in_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
