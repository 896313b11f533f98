"""Helpers for the API tests."""

import json

from django.test import Client

from allora.models import ApiToken

API = "/api/v1"


def bearer(user, *, name="test token"):
    """Request headers that authenticate as ``user`` with a fresh personal token."""
    _token, secret = ApiToken.issue(user, name=name)
    return {"Authorization": f"Bearer {secret}"}


def get(user, path, **params):
    """GET an API path (under /api/v1) as ``user``."""
    return Client().get(f"{API}{path}", params, headers=bearer(user))


def send(user, method, path, payload=None, *, raw=None):
    """Call an API path with a JSON body as ``user`` (None: no token)."""
    data = raw if raw is not None else json.dumps(payload or {})
    call = getattr(Client(), method)
    headers = bearer(user) if user is not None else {}
    return call(f"{API}{path}", data, content_type="application/json", headers=headers)
