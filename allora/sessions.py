"""The session and the signed-in user of every request, read together in one fixed statement.

Django's database sessions and its ``ModelBackend`` make two queries before every signed-in
page, the session's row then the user's, each built and compiled anew by the ORM (issue 14).
Here a session's row (`allora.models.Session`, Django's documented way of extending database
sessions) keeps the signed-in user's id beside the data, written on every save, and
`SessionStore.load` reads the row with its user joined: one `Read` (allora/statements.py),
compiled once, run with the request's key. Django's ``get_user`` then asks the backend for the
session's user by id only (it does not pass the request), so the joined user is handed over
through a context variable, cleared when a request starts and when a session loads:
`UserBackend.get_user` takes it, once, when its id is the one asked for, and reads the user
itself otherwise, so no request is given another session's user. Everything else (saving a
session, signing in, checking the session's password hash, is_active, permissions) is Django's
own. Settings: ``SESSION_ENGINE = "allora.sessions"`` and ``allora.sessions.UserBackend`` in
``AUTHENTICATION_BACKENDS``.
"""

import datetime as dt
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db
from django.core.signals import request_started
from django.utils import timezone

from .statements import Read

if TYPE_CHECKING:
    from .models import Session

# The user joined to the session this request loaded last (None: none, or already taken). A
# process serves request after request in the same context: every request and every load
# starts without it, and only the user whose id is asked for is taken.
_joined_user: ContextVar[Any] = ContextVar("allora_session_user", default=None)


def _forget_joined_user(**kwargs):
    """A request starts with no user handed over (``request_started``), as does a load."""
    _joined_user.set(None)


request_started.connect(_forget_joined_user, dispatch_uid="allora.sessions.forget_joined_user")


def signed_in_id(data) -> int | None:
    """The id of the user a session's data names as signed in (Django keeps it as text), or
    None: the session's user column, so that loading the session can join its user."""
    try:
        return int(data.get(SESSION_KEY))
    except (TypeError, ValueError):
        return None


@cache
def _session_read(model) -> Read:
    """``get(session_key=…, expire_date__gt=now)``'s statement, with the session's user."""
    return Read(
        lambda key, now: (
            model.objects.filter(session_key=key, expire_date__gt=now)
            .select_related("user")
            .order_by()
        ),
        key=str,
        now=dt.datetime,
    )


class SessionStore(db.SessionStore):
    """Django's database sessions in `allora.models.Session`: each row names its signed-in
    user, and is read with that user in one fixed statement."""

    @classmethod
    def get_model_class(cls):
        from .models import Session

        return Session

    def create_model_instance(self, data):
        """Django's row, with the user the data names beside it (None: nobody), so the next
        load can read the user with the session."""
        session = cast("Session", super().create_model_instance(data))
        session.user_id = signed_in_id(data)
        return session

    def load(self):
        # As Django's: a missing, invalid or expired key is an empty session, the key dropped.
        _forget_joined_user()  # nothing of another session is ever handed over
        rows = []
        if self.session_key:
            rows = _session_read(self.model).run(key=self.session_key, now=timezone.now())
        if not rows:
            self._session_key = None
            return {}
        data = self.decode(rows[0].session_data)
        _joined_user.set(rows[0].user)
        return data


def _pk(user_id):
    """A user's primary key from the session's text."""
    return get_user_model()._meta.pk.to_python(user_id)


@cache
def _user_read() -> Read:
    """``get(pk=…)``'s statement."""
    return Read(lambda pk: get_user_model()._default_manager.filter(pk=pk).order_by(), pk=int)


def signed_in_user(user_id):
    """The user with the primary key ``user_id`` (as the session holds it), or None."""
    found = _user_read().run(pk=_pk(user_id))
    return found[0] if found else None


def joined_user(user_id):
    """The user read with this request's session, if it is the user ``user_id``, or None.
    Taken once: a later call reads the user itself, as it would have before."""
    user = _joined_user.get()
    _joined_user.set(None)
    return user if user is not None and user.pk == _pk(user_id) else None


class UserBackend(ModelBackend):
    """Django's ``ModelBackend``; the signed-in user of each request is the one read with its
    session (``get_user``), or else read with a fixed statement, where Django builds
    ``get(pk=…)`` anew every time."""

    def get_user(self, user_id):
        user = joined_user(user_id) or signed_in_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
