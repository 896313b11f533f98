"""Skip-or-fail for tests that need a real service: outside CI a missing service skips with a
visible reason; in CI (REQUIRE_SERVICES=1) it fails, so nothing is silently left untested."""

import os
import socket

import pytest


def require(what, reason):
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required in CI: {reason}")
    pytest.skip(f"{what} not available: {reason}")


def redis_url():
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        socket.create_connection((host, int(port or 6379)), timeout=1).close()
    except OSError as error:
        require("Redis", f"{url}: {error}")
    return url


def shared_database_url():
    """A DATABASE_URL for a subprocess to reach this test run's database (PostgreSQL only:
    SQLite's test database lives in this process's memory)."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor != "postgresql":
        require("PostgreSQL", "other processes cannot share an in-memory SQLite test database")
    user = settings.get("USER") or "postgres"
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = settings.get("HOST") or "127.0.0.1"
    port = settings.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"
