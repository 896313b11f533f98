"""Counting requests in Django's cache (a database table unless CACHE_URL says otherwise, so
every web worker shares the counts)."""

import hashlib

from django.conf import settings
from django.core.cache import cache

HOUR = 60 * 60


def take(key: str, *, limit: int, window: int) -> bool:
    """Count one use of ``key``; False once more than ``limit`` uses fall in the window that
    began with the first of them."""
    cache.add(key, 0, timeout=window)
    try:
        used = cache.incr(key)
    except ValueError:  # the window ran out between add and incr
        cache.set(key, 1, timeout=window)
        used = 1
    return used <= limit


def allow_password_reset(*, email: str, ip: str | None) -> bool:
    """At most PASSWORD_RESETS_PER_HOUR reset emails per address and per client address."""
    limit = settings.PASSWORD_RESETS_PER_HOUR
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    by_email = take(f"password-reset:email:{digest}", limit=limit, window=HOUR)
    by_ip = take(f"password-reset:ip:{ip}", limit=limit, window=HOUR)
    return by_email and by_ip


def sign_in_username(request, credentials):
    """The email a sign-in attempt is for, as django-axes counts it: Django's sign-in form
    sends it as ``username``, ``authenticate(email=…)`` as ``email``; case does not matter."""
    source = credentials or getattr(request, "POST", {}) or {}
    email = source.get("username") or source.get("email") or ""
    return email.strip().lower()
