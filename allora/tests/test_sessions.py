"""The session and the signed-in user read with one fixed statement each (allora/sessions.py):
they read what Django's own database sessions and ModelBackend read, and a signed-in request
makes the same two queries, cheaper to build."""

import datetime as dt

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends import db as django_db
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from allora.models import User
from allora.sessions import SessionStore, UserBackend, signed_in_user

pytestmark = pytest.mark.django_db


def stored_session(data, *, expires_in=dt.timedelta(hours=1)):
    session = django_db.SessionStore()
    session.update(data)
    session.set_expiry(expires_in)
    session.save()
    return session.session_key


def test_a_session_reads_as_djangos_database_sessions_read_it():
    key = stored_session({"a": 1, "when": "2027-03-14", "nested": {"b": [1, 2]}})
    ours, theirs = SessionStore(key), django_db.SessionStore(key)
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
    ours, theirs = SessionStore(key), django_db.SessionStore(key)
    assert ours.load() == theirs.load() == {}
    assert ours.session_key == theirs.session_key == (key if keeps_key else None)


def test_the_signed_in_user_is_the_one_django_reads(staff):
    staff.last_login = timezone.now()
    staff.save()
    user = signed_in_user(staff.pk)
    expected = User.objects.get(pk=staff.pk)
    fields = [field.attname for field in User._meta.concrete_fields]
    assert [getattr(user, name) for name in fields] == [getattr(expected, name) for name in fields]
    assert user._state.db == "default" and not user._state.adding
    assert signed_in_user(staff.pk + 1000) is None


def test_an_inactive_user_is_nobody(staff):
    assert UserBackend().get_user(staff.pk) == ModelBackend().get_user(staff.pk) == staff
    User.objects.filter(pk=staff.pk).update(is_active=False)
    assert UserBackend().get_user(staff.pk) is ModelBackend().get_user(staff.pk) is None


def test_signing_in_with_a_password_then_out(client, staff):
    staff.set_password("a long enough password 1")
    staff.save()
    response = client.post(
        reverse("login"), {"username": staff.email, "password": "a long enough password 1"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_backend"] == "allora.sessions.UserBackend"
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("agreements:customer_list")).status_code == 200
    sql = [query["sql"] for query in queries.captured_queries]
    assert "django_session" in sql[0] and "allora_user" in sql[1]
    client.post(reverse("logout"))
    assert client.get(reverse("agreements:customer_list")).status_code == 302


def test_a_changed_password_ends_other_sessions(client, staff):
    """The session's password hash is still checked (Django's get_user, after our backend)."""
    client.force_login(staff)
    assert client.get(reverse("agreements:customer_list")).status_code == 200
    staff.set_password("another long password 2")
    staff.save()
    assert client.get(reverse("agreements:customer_list")).status_code == 302


def test_sessions_signed_in_before_the_backend_stay_signed_in(client, staff, settings):
    """Migration allora 0006: a session that names Django's ModelBackend (signed in before
    allora.sessions.UserBackend) names the new one, so nobody is signed out by the change."""
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps

    migration = import_module("allora.migrations.0006_sessions_signed_in_by_userbackend")
    signed_in = {
        "_auth_user_id": str(staff.pk),
        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
        "_auth_user_hash": staff.get_session_auth_hash(),
    }
    key = stored_session(signed_in)
    expired = stored_session(signed_in, expires_in=dt.timedelta(seconds=-1))
    other = stored_session({"a": 1})
    untouched = Session.objects.get(session_key=other).session_data
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    page = reverse("agreements:customer_list")
    assert client.get(page).status_code == 302  # the old backend is not a backend any more

    editor = SimpleNamespace(connection=connection)
    migration.rename_backend(apps, editor)
    assert client.get(page).status_code == 200
    assert django_db.SessionStore(key).load()["_auth_user_backend"] == migration.NEW
    raw = Session.objects.get(session_key=expired).session_data
    assert django_db.SessionStore().decode(raw)["_auth_user_backend"] == migration.OLD
    assert Session.objects.get(session_key=other).session_data == untouched  # not signed in

    migration.rename_back(apps, editor)
    assert django_db.SessionStore(key).load()["_auth_user_backend"] == migration.OLD
