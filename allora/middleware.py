"""Sign-in rules applied to every request: session lifetimes and the second factor."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse

from . import second_factor

# Staff sessions note their last request at most this often, to spare a session write per page.
ACTIVITY_RESOLUTION = 60


def expiry_reason(*, signed_in_at, last_activity, now, is_staff) -> str | None:
    """Why a session has ended (None: it has not): 12 hours after signing in for everyone,
    and after 30 idle minutes for staff and admins (both settings)."""
    if signed_in_at is not None and now - signed_in_at > settings.SESSION_COOKIE_AGE:
        hours = settings.SESSION_COOKIE_AGE // 3600
        return f"Your session ended {hours} hours after you signed in. Please sign in again."
    idle = None if last_activity is None else now - last_activity
    if is_staff and idle is not None and idle > settings.STAFF_IDLE_TIMEOUT:
        minutes = settings.STAFF_IDLE_TIMEOUT // 60
        return f"You were signed out after {minutes} minutes without activity."
    return None


class SessionTimeoutMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            session = request.session
            now = int(time.time())
            reason = expiry_reason(
                signed_in_at=session.get(second_factor.SIGNED_IN_AT),
                last_activity=session.get(second_factor.LAST_ACTIVITY),
                now=now,
                is_staff=user.is_allora_staff,
            )
            if reason:
                logout(request)
                messages.info(request, reason)
                return redirect_to_login(request.get_full_path())
            if user.is_allora_staff:
                last = session.get(second_factor.LAST_ACTIVITY) or 0
                if now - last >= ACTIVITY_RESOLUTION:
                    session[second_factor.LAST_ACTIVITY] = now
        return self.get_response(request)


class SecondFactorMiddleware:
    """A session that still owes its code (or a staff member who must first set up an app)
    reaches only the second-factor pages and sign-out; every other page sends it there. The
    API checks for itself (allora/api.py: tokens need no code, the session does)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match.view_name in second_factor.OPEN_PAGES or "api" in match.namespaces:
            return None
        if not second_factor.needs_verification(request):
            return None
        if second_factor.has_second_factor(request.user):
            target = "second_factor_verify"
        else:
            target = "second_factor_enroll"
        return redirect_to_login(request.get_full_path(), reverse(target))
