"""Django's translations, on for a test: the project runs with ``USE_I18N`` off (English only),
and tests that compare a filter with Django's own in other languages turn them on."""

from contextlib import contextmanager

from django.test import override_settings
from django.utils import translation


@contextmanager
def translations_on():
    """``USE_I18N`` on while inside; Django picks its translation functions once, so they are
    dropped on the way in and out (as django.utils.translation's docstring says to)."""
    with override_settings(USE_I18N=True):
        translation._trans.__dict__.clear()
        try:
            yield
        finally:
            translation.deactivate()
    translation._trans.__dict__.clear()
