"""The layout's main menu, rendered once per kind of page and role (allora/templatetags/menus.py):
whatever the path, the reused rendering is the one the menu template gives for that very path."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allora.templatetags.menus import main_menu, menu_path

MENUS = ["allora/nav_staff.html", "allora/nav_portal.html"]

# The words the menus test paths for, and others, so generated paths hit every branch.
WORDS = [
    "staff", "customers", "agreements", "import", "renewals", "invoices", "reminders", "time",
    "schedule", "visits", "emergencies", "projects", "settings", "company", "terms",
    "response-tiers", "webhooks", "accounts", "profile", "portal", "ratecards", "rates", "x",
]  # fmt: skip
segment = st.one_of(
    st.sampled_from(WORDS),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.tuples(st.sampled_from(WORDS), st.integers(0, 999)).map(lambda p: f"{p[0]}{p[1]}"),
)
paths = st.lists(segment, max_size=5).map(lambda parts: "/" + "".join(f"{p}/" for p in parts))


def rendered_afresh(name, path, is_admin):
    request = RequestFactory().get(path)
    return render_to_string(name, {"request": request, "is_admin": is_admin})


def menu(name, path, is_admin):
    return main_menu({"request": RequestFactory().get(path), "is_admin": is_admin}, name)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(path=paths, name=st.sampled_from(MENUS), is_admin=st.booleans())
def test_the_reused_menu_is_the_menu_of_the_path(path, name, is_admin):
    assert menu(name, path, is_admin) == rendered_afresh(name, path, is_admin)


@pytest.mark.parametrize(
    "path",
    [
        reverse("staff_home"),
        reverse("agreements:agreement_detail", args=[12]),
        reverse("agreements:agreement_detail", args=[987654]),
        reverse("agreement_import"),
        reverse("billing:reminder_steps"),
        reverse("agreements:tier_list"),
        reverse("profile"),
        reverse("portal:home"),
        reverse("portal:invoice_list"),
    ],
)
@pytest.mark.parametrize("name", MENUS)
@pytest.mark.parametrize("is_admin", [False, True])
def test_the_app_pages_menus(path, name, is_admin):
    assert menu(name, path, is_admin) == rendered_afresh(name, path, is_admin)


def test_ids_do_not_matter_and_roles_do():
    assert menu_path("/agreements/12/versions/3/") == menu_path("/agreements/98765/versions/0/")
    detail = reverse("agreements:agreement_detail", args=[5])
    staff, admin = (menu("allora/nav_staff.html", detail, is_admin) for is_admin in (False, True))
    renewals = f'href="{reverse("agreements:renewal_queue")}"'
    assert renewals in admin and renewals not in staff
    assert f'active" aria-current="page" href="{reverse("agreements:agreement_list")}"' in staff
