"""Settings, all read from the environment (see README, "Settings").

Defaults give a zero-setup development run: SQLite, an embedded file-system Celery broker and
console email. Production sets DEBUG=false, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL (PostgreSQL),
CELERY_BROKER_URL (Redis) and EMAIL_URL; bad values stop the start with a clear error.
"""

import ipaddress
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A developer's .env (made by `make` from .env.example); variables already set take precedence.
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def env_bool(name, *, default):
    """A boolean from the environment; anything but a clear yes or no stops the start."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw not in _TRUE | _FALSE:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")
    return raw in _TRUE


DEBUG = env_bool("DEBUG", default=False)

# A development key is only acceptable while DEBUG is on; production must supply its own.
SECRET_KEY = env.str(
    "SECRET_KEY",
    default="dev-only-insecure-key-never-used-in-production" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Webhook URLs on local or private addresses (README, "Webhooks"): for development only.
WEBHOOKS_ALLOW_PRIVATE = env_bool("WEBHOOKS_ALLOW_PRIVATE", default=False)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "django_celery_beat",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "allora",
    "agreements",
    "scheduling",
    "billing",
    "delivery",
    "portal",
    "integrations",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allora.middleware.SessionTimeoutMiddleware",
    "allora.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the friendly page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "allora.urls"
WSGI_APPLICATION = "allora.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "allora.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'allora.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the Celery worker share the file: WAL lets readers run during a write,
    # and IMMEDIATE transactions avoid "database is locked" on lock upgrades.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    # Values bound by PostgreSQL, so psycopg prepares a statement run a few times on a
    # connection and PostgreSQL plans it once (issue 14: the pages' reads are the same
    # statements every request; planning was a third of their time). Off behind a pooler that
    # cannot keep prepared statements (PgBouncer in transaction mode before 1.21).
    if env_bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 5}  # psycopg's default
        )

# The throttles (password resets) count in the cache: a database table by default, so every
# web worker sees the same counts without Redis; CACHE_URL may point at Redis instead.
CACHES = {
    "default": env.cache_url("CACHE_URL", default="dbcache://allora_cache"),
    # Each process's rendered agreement documents of sent versions (agreements.document:
    # document_html): emptied by a restart, so a new release never shows an old layout.
    "documents": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "agreement-documents",
        "OPTIONS": {"MAX_ENTRIES": 500},
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "allora.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Signing in (README, "Signing in and the second factor").
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out pair is refused before any password hash is computed.
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, taking the signed-in user read with the session (allora/sessions.py).
    "allora.sessions.UserBackend",
]
# Django's database sessions, each row with its signed-in user: one read of both per request.
SESSION_ENGINE = "allora.sessions"
# Staff and admins must confirm a TOTP code (or a recovery code) after their password.
OTP_REQUIRED_FOR_STAFF = env_bool("OTP_REQUIRED_FOR_STAFF", default=not DEBUG)
OTP_NOT_REQUIRED_ACKNOWLEDGED = env_bool("OTP_NOT_REQUIRED_ACKNOWLEDGED", default=False)
if not (DEBUG or OTP_REQUIRED_FOR_STAFF or OTP_NOT_REQUIRED_ACKNOWLEDGED):
    raise ImproperlyConfigured(
        "OTP_REQUIRED_FOR_STAFF=false lets staff and admins, who see every customer, sign in "
        "with a password alone. Set OTP_NOT_REQUIRED_ACKNOWLEDGED=true to run like that anyway."
    )
OTP_TOTP_ISSUER = "Allora"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin site never shows an authenticator secret
OTP_REMEMBER_DAYS = env.int("OTP_REMEMBER_DAYS", default=30)
OTP_RECOVERY_CODES = 10
# Failed sign-ins lock the account-and-address pair (django-axes, failures in the database).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_MINUTES = env.int("AXES_COOLOFF_MINUTES", default=15)
AXES_COOLOFF_TIME = timedelta(minutes=AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "allora.throttle.sign_in_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "allora.views_signin.locked_out"
AXES_VERBOSE = False
# The same client address as signatures: X-Forwarded-For only from TRUSTED_PROXIES.
AXES_CLIENT_IP_CALLABLE = "allora.clientip.client_ip"
# Password-reset links are short-lived; portal invitations (their own token) keep a week.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)
INVITATION_TIMEOUT = env.int("INVITATION_TIMEOUT", default=60 * 60 * 24 * 7)
PASSWORD_RESETS_PER_HOUR = env.int("PASSWORD_RESETS_PER_HOUR", default=3)
# Sessions end 12 hours after signing in, and staff sessions after 30 idle minutes.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 60 * 60)
STAFF_IDLE_TIMEOUT = env.int("STAFF_IDLE_TIMEOUT", default=30 * 60)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/New_York"
# English only: Django's translation machinery off (its documented switch for speed; issue 14:
# every printed value asked for the active language, 0.5 ms of the staff home). Dates and numbers
# are still printed by the en-us formats.
USE_I18N = False
USE_TZ = True
DEFAULT_CUSTOMER_TIME_ZONE = "America/New_York"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
if DEBUG:
    # No collectstatic needed while developing.
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# Uploads: form fields (not files) above 2.5 MB are a 400; a file above 2.5 MB is spooled to
# a temporary file, not held in memory. The import refuses a file above IMPORT_MAX_BYTES before
# parsing it (the upload page, the API and manage.py import_agreements); a file above
# IMPORT_INLINE_MAX_BYTES is checked and imported by the Celery worker, with its progress on the
# import page, never inside a web request.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=20 * 1024 * 1024)
IMPORT_INLINE_MAX_BYTES = env.int("IMPORT_INLINE_MAX_BYTES", default=256 * 1024)

# The accounting exports (billing.bookkeeping) name accounts and items of the company they are
# imported into: a new QuickBooks Online or Xero (US) company's names by default.
ACCOUNTING_EXPORT = {
    "quickbooks_income_account": env.str("QUICKBOOKS_INCOME_ACCOUNT", default="Services"),
    "quickbooks_receivable_account": env.str(
        "QUICKBOOKS_RECEIVABLE_ACCOUNT", default="Accounts Receivable (A/R)"
    ),
    "quickbooks_discount_item": env.str("QUICKBOOKS_DISCOUNT_ITEM", default="Discount"),
    "xero_account_code": env.str("XERO_ACCOUNT_CODE", default="200"),
    "xero_tax_type": env.str("XERO_TAX_TYPE", default="Tax Exempt"),
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Allora <agreements@allora.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security: secure by default, relaxed only while developing.
# The reverse proxies in front of the app (IPs or CIDRs, e.g. "127.0.0.1,10.0.0.0/8"). Only a
# request from one of them may tell the client's address (X-Forwarded-For, read by
# allora.clientip) or the scheme (X-Forwarded-Proto); the proxy must overwrite both headers.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network (e.g. 127.0.0.1)."
        ) from None
BEHIND_PROXY = env_bool("BEHIND_PROXY", default=bool(TRUSTED_PROXIES))
if BEHIND_PROXY:
    # Django cannot tell who sent the header: set this only when every request comes through a
    # proxy that replaces X-Forwarded-Proto (the app listens on 127.0.0.1 behind it).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp): scripts, styles, fonts and frames only from our own static
# files, never inline; images also as data: URLs (the drawn signatures are PNG data URLs).
# Templates keep no <script> without src, no <style>, no style="" and no on…="" handlers
# (allora/tests/test_csp.py checks them); data for scripts goes through json_script or data-.
_CSP_DIRECTIVES = {
    "default-src": [SELF],
    "script-src": [SELF],
    "style-src": [SELF],
    "img-src": [SELF, "data:"],
    "font-src": [SELF],
    "connect-src": [SELF],
    "object-src": [NONE],
    "base-uri": [SELF],
    "frame-ancestors": [NONE],
    "form-action": [SELF],
}
if _csp_report_uri := env.str("CSP_REPORT_URI", default=""):
    _CSP_DIRECTIVES["report-uri"] = [_csp_report_uri]
CONTENT_SECURITY_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}

# Celery. The default broker is a folder on disk, so `make run` needs no Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue = VAR_DIR / "celery" / "queue"
    _processed = VAR_DIR / "celery" / "processed"
    _control = VAR_DIR / "celery" / "control"  # kombu's default is ./control, in the checkout
    for _folder in (_queue, _processed, _control):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(_processed),
        "control_folder": str(_control),
        "store_processed": False,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # WeasyPrint narrates every render at INFO; only its warnings matter.
    "loggers": {
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        # django-axes logs every sign-in; failures and lockouts are in its tables.
        "axes": {"level": "WARNING"},
    },
}

# WeasyPrint announces a deprecation on import; it is not actionable for us.
warnings.filterwarnings("ignore", category=DeprecationWarning, module="weasyprint")
