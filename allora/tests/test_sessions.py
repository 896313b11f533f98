"""The session and its signed-in user, read together in one fixed statement
(allora/sessions.py): they read what Django's own database sessions and ModelBackend read, a
signed-in request reads both in one query where Django makes two, and a request is only ever
given the user of its own session."""

import datetime as dt
from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib.auth import login, logout
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db as django_db
from django.contrib.sessions.models import Session as DjangoSession
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from allora.models import Session, User
from allora.sessions import SessionStore, UserBackend, signed_in_user

pytestmark = pytest.mark.django_db

BACKEND = "allora.sessions.UserBackend"
PAGE = "agreements:customer_list"  # a staff page
MOVE = import_module("allora.migrations.0007_sessions_with_their_user")


# Django's own database sessions on our table: what reading a session must give. Its class is
# named SessionStore, as ours and Django's are: a store signs its data with its class's name.
DjangosStore = type(
    "SessionStore", (django_db.SessionStore,), {"get_model_class": classmethod(lambda _: Session)}
)


def stored_session(data, *, expires_in=dt.timedelta(hours=1), store=SessionStore):
    session = store()
    session.update(data)
    session.set_expiry(expires_in)
    session.save()
    return session.session_key


def signed_in_data(user, backend=BACKEND):
    return {
        "_auth_user_id": str(user.pk),
        "_auth_user_backend": backend,
        "_auth_user_hash": user.get_session_auth_hash(),
    }


def user_id_of(key):
    """The user column of the session ``key``'s row."""
    return Session.objects.values_list("user_id", flat=True).get(session_key=key)


def cookie(client, settings):
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_a_session_reads_as_djangos_database_sessions_read_it():
    key = stored_session({"a": 1, "when": "2027-03-14", "nested": {"b": [1, 2]}})
    ours, theirs = SessionStore(key), DjangosStore(key)
    data = ours.load()
    assert data == theirs.load()
    assert {key: data[key] for key in ("a", "when", "nested")} == {
        "a": 1,
        "when": "2027-03-14",
        "nested": {"b": [1, 2]},
    }
    assert ours.session_key == key


@pytest.mark.parametrize(
    "case, keeps_key",
    [
        ("none", False),
        ("invalid", False),  # too short to be a key: Django drops it
        ("unknown", False),
        ("expired", False),
        ("tampered", True),  # the row is there, its data does not decode: Django keeps the key
    ],
)
def test_no_session_reads_as_an_empty_one(case, keeps_key):
    key = {"none": None, "invalid": "short", "unknown": "x" * 32}.get(case)
    if case == "expired":
        key = stored_session({"a": 1}, expires_in=dt.timedelta(seconds=-1))
    elif case == "tampered":
        key = stored_session({"a": 1})
        Session.objects.filter(session_key=key).update(session_data="not signed")
    ours, theirs = SessionStore(key), DjangosStore(key)
    assert ours.load() == theirs.load() == {}
    assert ours.session_key == theirs.session_key == (key if keeps_key else None)


def test_the_signed_in_user_is_the_one_django_reads(staff):
    staff.last_login = timezone.now()
    staff.save()
    key = stored_session(signed_in_data(staff))
    SessionStore(key).load()
    expected = User.objects.get(pk=staff.pk)
    fields = [field.attname for field in User._meta.concrete_fields]
    for user in (UserBackend().get_user(staff.pk), signed_in_user(staff.pk)):  # joined, read
        assert [getattr(user, name) for name in fields] == [
            getattr(expected, name) for name in fields
        ]
        assert user._state.db == "default" and not user._state.adding
    assert signed_in_user(staff.pk + 1000) is None


def test_an_inactive_user_is_nobody(staff):
    assert UserBackend().get_user(staff.pk) == ModelBackend().get_user(staff.pk) == staff
    User.objects.filter(pk=staff.pk).update(is_active=False)
    assert UserBackend().get_user(staff.pk) is ModelBackend().get_user(staff.pk) is None
    SessionStore(stored_session(signed_in_data(staff))).load()  # joined, inactive: nobody too
    assert UserBackend().get_user(staff.pk) is None


def test_a_signed_in_page_reads_its_session_and_user_in_one_query(alice, settings):
    """The home page only redirects: before the view, Django's sessions and ModelBackend read
    the session then the user; ours read both at once."""

    def queries_of_home():
        client = Client()
        client.force_login(alice)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("home")).status_code == 302
        return [query["sql"] for query in queries.captured_queries]

    ours = queries_of_home()
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    settings.AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
    djangos = queries_of_home()
    assert len(ours) == 1 == len(djangos) - 1
    assert "allora_session" in ours[0] and "allora_user" in ours[0]
    assert "django_session" in djangos[0] and "allora_user" in djangos[1]


def test_signing_in_with_a_password_then_out(client, staff, settings):
    """The session's user column follows: nobody, then the user (a new key, Django's
    cycle_key), then nobody; every page reads the session and the user in one query."""
    staff.set_password("a long enough password 1")
    staff.save()
    session = client.session
    session["seen"] = True
    session.save()
    before = session.session_key
    assert user_id_of(before) is None
    response = client.post(
        reverse("login"), {"username": staff.email, "password": "a long enough password 1"}
    )
    assert response.status_code == 302
    key = cookie(client, settings)
    assert key != before and not Session.objects.filter(session_key=before).exists()
    assert user_id_of(key) == staff.pk
    assert client.session["_auth_user_backend"] == BACKEND and client.session["seen"]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse(PAGE)).status_code == 200
    sql = [query["sql"] for query in queries.captured_queries]
    assert "allora_session" in sql[0] and "allora_user" in sql[0]
    assert not any("allora_session" in one or "allora_user" in one for one in sql[1:3])
    client.post(reverse("logout"))
    assert not Session.objects.filter(user=staff).exists()
    assert client.get(reverse(PAGE)).status_code == 302


def test_switching_users_in_one_session_switches_its_user(rf, staff, alice):
    """Signing in as another person in the same browser: Django starts a new session, whose
    row names the new user; the old row is gone."""
    request = rf.get("/")
    request.session = SessionStore()
    login(request, staff, backend=BACKEND)
    request.session.save()
    first = request.session.session_key
    assert user_id_of(first) == staff.pk
    login(request, alice, backend=BACKEND)
    request.session.save()
    second = request.session.session_key
    assert second != first and not Session.objects.filter(session_key=first).exists()
    assert user_id_of(second) == alice.pk
    request.session.cycle_key()  # a new key for the same user keeps the user column
    assert user_id_of(request.session.session_key) == alice.pk
    logout(request)
    assert not Session.objects.filter(user=alice).exists()


def test_a_deactivated_user_is_signed_out(client, staff):
    client.force_login(staff)
    assert client.get(reverse(PAGE)).status_code == 200
    User.objects.filter(pk=staff.pk).update(is_active=False)
    assert client.get(reverse(PAGE)).status_code == 302


def test_a_changed_password_ends_other_sessions(client, staff):
    """The session's password hash is still checked (Django's get_user, after our backend)."""
    client.force_login(staff)
    assert client.get(reverse(PAGE)).status_code == 200
    staff.set_password("another long password 2")
    staff.save()
    assert client.get(reverse(PAGE)).status_code == 302


def test_deleting_a_user_ends_their_sessions(staff, admin):
    key = stored_session(signed_in_data(staff))
    other = stored_session(signed_in_data(admin))
    staff.delete()
    assert not Session.objects.filter(session_key=key).exists()
    assert user_id_of(other) == admin.pk


def test_one_sessions_user_is_never_given_to_another_request(staff, admin, alice):
    """Two browsers interleaved: each request is its own session's user. The user read with a
    session is handed over once, and only when it is the user asked for."""
    browsers = {user: Client() for user in (staff, admin, alice)}
    for user, browser in browsers.items():
        browser.force_login(user)
    for _ in range(2):
        for user, browser in browsers.items():
            response = browser.get(reverse("home"))
            assert response.wsgi_request.user == user
    # A session read, then another person's id asked for: that person is read, not handed.
    SessionStore(stored_session(signed_in_data(staff))).load()
    with CaptureQueriesContext(connection) as queries:
        assert UserBackend().get_user(str(admin.pk)) == admin
    assert len(queries) == 1
    # A session of nobody, or none, read after staff's: staff's user is not handed to it.
    for later in (stored_session({"a": 1}), "x" * 32):
        SessionStore(stored_session(signed_in_data(staff))).load()
        SessionStore(later).load()
        with CaptureQueriesContext(connection) as queries:
            assert UserBackend().get_user(str(staff.pk)) == staff
        assert len(queries) == 1
    # A request that loads no session starts without the last one's user.
    SessionStore(stored_session(signed_in_data(staff))).load()
    assert Client().get(reverse("healthz")).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        assert UserBackend().get_user(str(staff.pk)) == staff
    assert len(queries) == 1
    # Handed over once: asked again, the user is read.
    SessionStore(stored_session(signed_in_data(staff))).load()
    with CaptureQueriesContext(connection) as queries:
        assert UserBackend().get_user(str(staff.pk)) == staff
        assert UserBackend().get_user(str(staff.pk)) == staff
    assert len(queries) == 1


def copied_from_djangos_table():
    """Migration allora 0007, run again: our table holds what Django's holds live."""
    Session.objects.all().delete()
    MOVE.copy_sessions(apps, SimpleNamespace(connection=connection))


def test_signed_in_sessions_are_copied_with_their_user(client, staff, admin, settings):
    """Migration allora 0007: the sessions open in Django's table stay open in ours, each with
    the user its data names; expired ones are left behind. Going back puts ours in Django's."""
    key = stored_session(signed_in_data(staff), store=django_db.SessionStore)
    anonymous = stored_session({"a": 1}, store=django_db.SessionStore)
    gone = stored_session(signed_in_data(admin), store=django_db.SessionStore)
    admin.delete()  # Django's table does not know: the session names nobody that exists
    expired = stored_session(
        signed_in_data(staff), expires_in=dt.timedelta(seconds=-1), store=django_db.SessionStore
    )
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    assert client.get(reverse(PAGE)).status_code == 302  # Django's table is not read any more

    copied_from_djangos_table()
    client.cookies[settings.SESSION_COOKIE_NAME] = key  # the empty session's answer dropped it
    row = Session.objects.get(session_key=key)
    assert row.user_id == staff.pk
    assert row.session_data == DjangoSession.objects.get(session_key=key).session_data
    assert user_id_of(anonymous) is None and user_id_of(gone) is None
    assert not Session.objects.filter(session_key=expired).exists()
    assert client.get(reverse(PAGE)).status_code == 200

    client.post(reverse("logout"))  # signed out since: going back must not sign in again
    MOVE.copy_back(apps, SimpleNamespace(connection=connection))
    assert set(DjangoSession.objects.values_list("session_key", flat=True)) == set(
        Session.objects.values_list("session_key", flat=True)
    )
    assert not DjangoSession.objects.filter(session_key=key).exists()


def test_sessions_signed_in_before_the_backend_stay_signed_in(client, staff, settings):
    """Migration allora 0006: a session that names Django's ModelBackend (signed in before
    allora.sessions.UserBackend) names the new one, so nobody is signed out by the change."""
    migration = import_module("allora.migrations.0006_sessions_signed_in_by_userbackend")
    signed_in = signed_in_data(staff, backend=migration.OLD)
    key = stored_session(signed_in, store=django_db.SessionStore)
    expired = stored_session(
        signed_in, expires_in=dt.timedelta(seconds=-1), store=django_db.SessionStore
    )
    other = stored_session({"a": 1}, store=django_db.SessionStore)
    untouched = DjangoSession.objects.get(session_key=other).session_data
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    copied_from_djangos_table()
    assert client.get(reverse(PAGE)).status_code == 302  # the old backend is not a backend any more

    editor = SimpleNamespace(connection=connection)
    migration.rename_backend(apps, editor)
    copied_from_djangos_table()
    assert client.get(reverse(PAGE)).status_code == 200
    assert django_db.SessionStore(key).load()["_auth_user_backend"] == migration.NEW
    raw = DjangoSession.objects.get(session_key=expired).session_data
    assert django_db.SessionStore().decode(raw)["_auth_user_backend"] == migration.OLD
    assert DjangoSession.objects.get(session_key=other).session_data == untouched

    migration.rename_back(apps, editor)
    assert django_db.SessionStore(key).load()["_auth_user_backend"] == migration.OLD
