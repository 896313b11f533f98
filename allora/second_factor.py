"""The second factor after the password (django-otp): who must use one, enrolling an
authenticator app, one-time recovery codes, the remembered browser, and resets.

- A TOTP device (``otp_totp``) per user holds the authenticator app's secret; a static device
  (``otp_static``) holds the recovery codes, each deleted when used.
- Staff and admins must have one when ``settings.OTP_REQUIRED_FOR_STAFF`` (on whenever DEBUG is
  off); customer users may turn one on from their profile. Whoever has one is asked for a code
  after their password (``user_signed_in`` marks the session), unless this browser was
  remembered for them (a signed cookie bound to the user and their device: resetting the device
  voids it).
- ``SecondFactorMiddleware`` (allora/middleware.py) keeps a session that still owes a code on
  the pages below; API tokens never need one.
"""

import time
from base64 import b32encode

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.safestring import mark_safe
from django_otp import login as otp_login
from django_otp import verify_token
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import SecondFactorEvent

# Session keys.
PENDING = "second_factor_pending"  # signed in with a password; the code is still owed
RECOVERY_CODES = "second_factor_new_codes"  # new recovery codes, shown once
SIGNED_IN_AT = "signed_in_at"
LAST_ACTIVITY = "last_activity"

REMEMBER_COOKIE = "allora_2fa_remembered"
_REMEMBER_SALT = "allora.second_factor.remember"

# The pages a session that owes a code may still reach (URL names).
OPEN_PAGES = frozenset(
    {"second_factor_verify", "second_factor_enroll", "second_factor_recovery_codes", "logout"}
)

Event = SecondFactorEvent.Kind


def required_for(user) -> bool:
    """Staff and admins must use a second factor while enforcement is on."""
    return user.is_allora_staff and settings.OTP_REQUIRED_FOR_STAFF


def totp_device(user, *, confirmed=True):
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).first()


def has_second_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def needs_verification(request) -> bool:
    """The signed-in user owes a code: they have a device, or must have one, and this session
    has not confirmed it yet."""
    user = request.user
    if not user.is_authenticated or user.is_verified():
        return False
    return bool(request.session.get(PENDING)) or required_for(user)


def on_sign_in(sender, request, user, **kwargs):
    """After the password (``user_logged_in``): start the session's clocks, and ask for a code
    when the user has a device and this browser is not remembered for them."""
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_ACTIVITY] = now
    device = totp_device(user)
    if device is None:
        return
    if is_remembered(request, device):
        otp_login(request, device)
    else:
        request.session[PENDING] = True


def mark_verified(request, device):
    """This session has confirmed its code."""
    otp_login(request, device)
    request.session.pop(PENDING, None)


# Enrolling ---------------------------------------------------------------------------------


def start_enrollment(user) -> TOTPDevice:
    """The authenticator secret being set up (unconfirmed until a first code matches)."""
    device = totp_device(user, confirmed=False)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def qr_code_svg(device) -> str:
    """The device's otpauth URI as an inline SVG QR code (no script, no style attributes)."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=8
    )
    return mark_safe(image.to_string(encoding="unicode"))  # noqa: S308 -- our own drawing


def secret_text(device) -> str:
    """The secret as people type it into an app: base32 in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@transaction.atomic
def confirm_enrollment(device, code: str, *, now):
    """Confirm the app with its first code; returns the new recovery codes (None: wrong code)."""
    if verify_token(device.user, device.persistent_id, _clean(code)) is None:
        return None
    device.refresh_from_db()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    SecondFactorEvent.objects.create(user=device.user, kind=Event.ENROLLED, by=device.user, at=now)
    return new_recovery_codes(device.user, now=now, record=False)


@transaction.atomic
def new_recovery_codes(user, *, now, record=True) -> list[str]:
    """Replace the user's recovery codes with fresh ones (each works once)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.OTP_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    if record:
        SecondFactorEvent.objects.create(user=user, kind=Event.CODES_RENEWED, by=user, at=now)
    return codes


# Verifying ---------------------------------------------------------------------------------


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def verify(user, code: str, *, now):
    """The device that accepts ``code``: the app's current code, or an unused recovery code
    (which is used up). None when neither matches; django-otp slows down repeated misses."""
    code = _clean(code)
    if not code:
        return None
    for device in (totp_device(user), StaticDevice.objects.filter(user=user).first()):
        if device is None:
            continue
        if verify_token(user, device.persistent_id, code) is not None:
            if isinstance(device, StaticDevice):
                SecondFactorEvent.objects.create(
                    user=user, kind=Event.RECOVERY_CODE_USED, by=user, at=now
                )
            return device
    return None


# Remembering a browser ---------------------------------------------------------------------


def _fingerprint(device) -> str:
    # Bound to the user and their device's secret: a reset (new device) voids old cookies.
    value = f"{device.user_id}:{device.pk}:{device.key}"
    return f"{device.user_id}:" + salted_hmac(_REMEMBER_SALT, value).hexdigest()


def remember_browser(response, device):
    """Skip the code in this browser for OTP_REMEMBER_DAYS."""
    response.set_signed_cookie(
        REMEMBER_COOKIE,
        _fingerprint(device),
        salt=_REMEMBER_SALT,
        max_age=settings.OTP_REMEMBER_DAYS * 24 * 60 * 60,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def is_remembered(request, device) -> bool:
    value = request.get_signed_cookie(
        REMEMBER_COOKIE,
        default=None,
        salt=_REMEMBER_SALT,
        max_age=settings.OTP_REMEMBER_DAYS * 24 * 60 * 60,
    )
    return value is not None and constant_time_compare(value, _fingerprint(device))


# Resetting ---------------------------------------------------------------------------------


@transaction.atomic
def reset_second_factor(user, *, by, now=None):
    """Remove the user's app and recovery codes (an admin's reset, or the user turning it
    off); their remembered browsers and verified sessions stop counting at once."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    kind = Event.TURNED_OFF if by == user else Event.RESET
    return SecondFactorEvent.objects.create(user=user, kind=kind, by=by, at=now or timezone.now())
