"""WSGI entry point (gunicorn allora.wsgi)."""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "allora.settings")
application = get_wsgi_application()

# What a worker loads to start (settings, apps, models, every view through the URLs) lives as
# long as it does: moved out of the garbage collector's reach, so its full collections no longer
# walk some 190,000 objects (issue 14: a 60 ms pause every ~60 requests of the agreement page,
# about 1 ms a request on average).
get_resolver().url_patterns  # noqa: B018 - imports every view module now
gc.freeze()
