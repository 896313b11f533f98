"""Who may see what: one decorator per audience, used by every view.

- ``staff_required``: Allora staff and admins (the back office).
- ``admin_required``: Allora admins only (rate cards, renewal review, users).
- ``portal_required``: customer users; their data is always scoped by ``request.user.customer``.

Anonymous visitors are sent to sign in; a signed-in user of the wrong audience gets a 403.
A customer's object asked for by another customer's user is a 404 (the scoping helpers on each
model's manager, e.g. ``Agreement.objects.for_user(user)``, make that so).
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied


def _audience(test):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not test(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapper.audience = test.__name__
        return wrapper

    return decorator


def staff(user):
    return user.is_allora_staff


def admin(user):
    return user.is_admin


def portal(user):
    return user.is_customer_user


staff_required = _audience(staff)
admin_required = _audience(admin)
portal_required = _audience(portal)


def public(view):
    """Mark a view as open to anyone (sign-in pages, health check, secret-token feeds)."""
    view.audience = "public"
    return view


def signed_in(view):
    """Any signed-in user (role-based redirects, profile)."""
    return _audience(lambda user: user.is_active)(view)
