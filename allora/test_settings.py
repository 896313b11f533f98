"""The test suite's settings: the real ones, read from the same environment variables, with
development defaults (DEBUG on while loading, so no secret key or TLS redirect is needed)."""

import os

os.environ.setdefault("DEBUG", "true")

from .settings import *  # noqa: E402, F403

# Tests create many users; a fast hasher keeps them quick. Never used outside tests.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405 -- whitenoise warns when it is missing
