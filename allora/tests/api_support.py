"""Helpers for the API tests."""

from allora.models import ApiToken


def bearer(user, *, name="test token"):
    """Request headers that authenticate as ``user`` with a fresh personal token."""
    _token, secret = ApiToken.issue(user, name=name)
    return {"Authorization": f"Bearer {secret}"}
