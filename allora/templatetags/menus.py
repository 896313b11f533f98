"""The layout's main menu (``allora/nav_staff.html``, ``allora/nav_portal.html``), rendered once
per kind of page and role and then reused: its dozen reversed URLs and thirty tests of the path
were about a sixth of rendering a short list page (issue 14)."""

import re
from functools import lru_cache
from types import SimpleNamespace

from django import template
from django.template.loader import get_template
from django.urls import get_script_prefix, get_urlconf
from django.utils.translation import get_language

register = template.Library()

_DIGITS = re.compile(r"\d+")


def menu_path(path: str) -> str:
    """``path`` as the menus read it. They test it against fixed paths with no digits in them,
    so its ids (an agreement's, a visit's…) change no test, and every agreement's page shares
    one rendering of the menu."""
    return _DIGITS.sub("0", path)


@lru_cache(maxsize=256)
def _rendered(name, path, is_admin, script_prefix, language, urlconf):
    # The menu sees the path and the role only: anything else it printed would be the same for
    # every user of the cache, so it is not there to print.
    context = {"request": SimpleNamespace(path=path), "is_admin": is_admin}
    return get_template(name).render(context)


@register.simple_tag(takes_context=True)
def main_menu(context, name):
    """The menu template ``name`` for this page and the signed-in user's role."""
    return _rendered(
        name,
        menu_path(context["request"].path),
        bool(context.get("is_admin")),
        get_script_prefix(),
        get_language(),
        get_urlconf(),
    )
