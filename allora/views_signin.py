"""The second-factor pages (rules in allora/second_factor.py): set up an authenticator app,
confirm a code after the password, recovery codes, turning it off, and an admin's reset."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from . import second_factor, throttle
from .forms import CodeForm, VerifyForm
from .tenancy import admin_required, signed_in


def safe_next(request, target: str) -> str:
    """`target` when it is a page of this site (never another host or scheme), else ""."""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if target and allowed else ""


def _next_url(request):
    """Where to go once the code is confirmed: the page asked for, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    return safe_next(request, target) or reverse(settings.LOGIN_REDIRECT_URL)


def _to(name, request):
    """A second-factor page, carrying on to the page the person asked for."""
    return redirect(f"{reverse(name)}?{urlencode({'next': _next_url(request)})}")


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in while the account-and-address pair is locked: the
    sign-in page, saying so plainly (429, no password was checked)."""
    return render(
        request,
        "registration/login.html",
        {
            "form": AuthenticationForm(request),
            "locked": True,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": settings.AXES_COOLOFF_MINUTES,
            "username": throttle.sign_in_username(request, credentials),
            "next": request.POST.get("next", ""),
        },
        status=429,
    )


@signed_in
def second_factor_verify(request):
    """After the password: the app's code or a recovery code, once per session (or per
    remembered browser)."""
    user = request.user
    if not second_factor.has_second_factor(user):
        if second_factor.required_for(user):
            return _to("second_factor_enroll", request)
        request.session.pop(second_factor.PENDING, None)
        return redirect(_next_url(request))
    if user.is_verified():
        return redirect(_next_url(request))
    form = VerifyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = second_factor.verify(user, form.cleaned_data["code"], now=timezone.now())
        if device is not None:
            second_factor.mark_verified(request, device)
            response = redirect(_next_url(request))
            if form.cleaned_data["remember"]:
                second_factor.remember_browser(response, second_factor.totp_device(user))
            return response
        form.add_error(
            "code",
            "That code does not match. Enter the current code from your app, or a recovery "
            "code; after several wrong codes, wait a little before the next try.",
        )
    return render(
        request, "allora/second_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


@signed_in
def second_factor_enroll(request):
    """Set up an authenticator app: scan the QR code (or type the secret), confirm a code,
    then see the recovery codes once."""
    user = request.user
    if second_factor.has_second_factor(user):
        if not user.is_verified():
            return _to("second_factor_verify", request)
        messages.info(request, "Your second factor is already set up.")
        return redirect("profile")
    device = second_factor.start_enrollment(user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        now = timezone.now()
        codes = second_factor.confirm_enrollment(device, form.cleaned_data["code"], now=now)
        if codes is not None:
            device.refresh_from_db()
            second_factor.mark_verified(request, device)
            request.session[second_factor.RECOVERY_CODES] = codes
            return _to("second_factor_recovery_codes", request)
        form.add_error("code", "That code does not match. Check the app and try the new code.")
    return render(
        request,
        "allora/second_factor_enroll.html",
        {
            "form": form,
            "qr_code": second_factor.qr_code_svg(device),
            "secret": second_factor.secret_text(device),
            "otpauth_uri": device.config_url,
            "required": second_factor.required_for(user),
            "next": _next_url(request),
        },
    )


@signed_in
def second_factor_recovery_codes(request):
    """New recovery codes are shown here once; a verified user may make a fresh set."""
    user = request.user
    if not second_factor.has_second_factor(user):
        return redirect("second_factor_enroll")
    if not user.is_verified():
        return redirect_to_login(request.path, reverse("second_factor_verify"))
    if request.method == "POST":
        codes = second_factor.new_recovery_codes(user, now=timezone.now())
        request.session[second_factor.RECOVERY_CODES] = codes
        return redirect("second_factor_recovery_codes")
    codes = request.session.pop(second_factor.RECOVERY_CODES, None)
    return render(
        request,
        "allora/second_factor_recovery_codes.html",
        {"codes": codes, "next": _next_url(request)},
    )


@signed_in
def second_factor_turn_off(request):
    """Customers (and anyone not required to use one) may turn their second factor off."""
    user = request.user
    if not second_factor.has_second_factor(user) or second_factor.required_for(user):
        return redirect("profile")
    if request.method == "POST":
        second_factor.reset_second_factor(user, by=user)
        messages.success(request, "The second factor is off: you sign in with your password.")
        return redirect("profile")
    return render(
        request,
        "allora/confirm.html",
        {
            "title": "Turn off the second factor?",
            "body": "You will sign in with your password alone, and your recovery codes stop "
            "working. You can set up an app again at any time.",
            "confirm_label": "Turn it off",
            "cancel_url": reverse("profile"),
        },
    )


@admin_required
def second_factor_reset(request, pk):
    """An admin removes another person's app and recovery codes (a lost phone): they set up a
    new one at their next sign-in. Recorded in their second-factor history."""
    person = get_object_or_404(get_user_model(), pk=pk)
    if request.method == "POST":
        second_factor.reset_second_factor(person, by=request.user)
        messages.success(
            request,
            f"The second factor of {person.email} is reset; they set up a new app when they "
            "next sign in.",
        )
        return redirect("second_factor_reset", pk=person.pk)
    return render(
        request,
        "allora/second_factor_reset.html",
        {
            "person": person,
            "has_second_factor": second_factor.has_second_factor(person),
            "events": person.second_factor_events.select_related("by")[:50],
            "user_admin_url": reverse("admin:allora_user_change", args=[person.pk]),
        },
    )
