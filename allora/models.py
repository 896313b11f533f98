import base64
import functools
import hashlib
import secrets
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .statements import Read


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    STAFF = "staff", "Staff"
    CUSTOMER = "customer", "Customer user"


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        fields.update(role=Role.ADMIN, is_staff=True, is_superuser=True)
        return self.create_user(email, password, **fields)


class User(AbstractUser):
    """A person who signs in: Allora staff, an Allora admin, or a user of one customer."""

    username = None
    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)
    # A customer user belongs to exactly one customer; staff and admins to none.
    customer = models.ForeignKey(
        "agreements.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []
    objects = UserManager()

    class Meta:
        ordering = ["first_name", "last_name", "email"]
        constraints = [
            models.CheckConstraint(
                name="customer_user_has_customer",
                condition=(Q(role=Role.CUSTOMER) & Q(customer__isnull=False))
                | (~Q(role=Role.CUSTOMER) & Q(customer__isnull=True)),
            )
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    @property
    def is_admin(self):
        return self.is_active and self.role == Role.ADMIN

    @property
    def is_allora_staff(self):
        """Staff and admins: the people of Allora."""
        return self.is_active and self.role in (Role.ADMIN, Role.STAFF)

    @property
    def is_customer_user(self):
        return self.is_active and self.role == Role.CUSTOMER


class Session(AbstractBaseSession):
    """A browser's session (allora.sessions.SessionStore), Django's database session with the
    signed-in user beside its data: a page reads the session and its user in one query, and
    deleting a user ends their sessions. The user is the session's ``_auth_user_id``, written
    with the data on every save (None: nobody is signed in)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.CASCADE,
        db_index=True,
        related_name="sessions",
    )

    @classmethod
    def get_session_store_class(cls):
        from .sessions import SessionStore

        return SessionStore


class Heartbeat(models.Model):
    """The last time the Celery worker ran the periodic heartbeat: proof that jobs run."""

    WORKER = "worker"  # the name of the worker's row (`allora.tasks.heartbeat`)

    name = models.CharField(max_length=50, unique=True)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name} at {self.last_seen:%Y-%m-%d %H:%M:%S}"


class FigureSnapshot(models.Model):
    """Figures too costly to compute on every visit of a page, stored as computed at one moment
    (issue 14): the staff home's revenue series, SLA months, utilization weeks and clash count.
    allora/snapshots.py computes, stores and reads them; a beat job refreshes them."""

    name = models.CharField(max_length=40, unique=True)
    figures = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    computed_at = models.DateTimeField()

    def __str__(self):
        return f"{self.name} as of {self.computed_at:%Y-%m-%d %H:%M:%S}"


# How precisely a token's "last used" is kept (issue 14).
LAST_USE_RESOLUTION = timedelta(minutes=1)


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True, user__is_active=True)

    def revoke(self, *, now):
        """Stop every token of the queryset at once (a revoked user's); rows stay for the record."""
        return self.filter(revoked_at__isnull=True).update(revoked_at=now)


class ApiToken(models.Model):
    """A personal API token. Only its SHA-256 is stored: the token itself is shown once."""

    PREFIX = "alr_"

    user = models.ForeignKey("allora.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “RMM sync”.")
    # The first characters of the token, so its owner can tell tokens apart.
    prefix = models.CharField(max_length=16)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def digest(raw: str) -> str:
        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def issue(cls, user, *, name: str, now=None):
        """Create a token for ``user``; returns (token row, the secret, shown only now)."""
        raw = cls.PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=raw[:12],
            token_sha256=cls.digest(raw),
            created_at=now or timezone.now(),
        )
        return token, raw

    @classmethod
    def user_for(cls, raw: str, *, now):
        """The active user a secret belongs to (None when unknown or revoked); notes the use."""
        found = _TOKEN.run(digest=cls.digest(raw))
        if not found:
            return None
        token = found[0]
        # At most one write a minute per token: an integration polling the API would otherwise
        # turn every read into a write and a commit.
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USE_RESOLUTION)
        if token.last_used_at is None or token.last_used_at <= now - LAST_USE_RESOLUTION:
            cls.objects.filter(stale, pk=token.pk).update(last_used_at=now)
        return token.user

    @property
    def is_active(self):
        return self.revoked_at is None

    def revoke(self, *, now):
        """Stop the token from working at once; the row stays for the record."""
        ApiToken.objects.filter(pk=self.pk, revoked_at__isnull=True).update(revoked_at=now)
        self.refresh_from_db(fields=["revoked_at"])


# A request's token with its user: a read compiled once (allora/statements.py), where the ORM
# built the same query anew on every API request.
_TOKEN = Read(
    lambda digest: (
        ApiToken.objects.active().select_related("user").filter(token_sha256=digest).order_by()
    ),
    digest=str,
)


class SecondFactorEvent(models.Model):
    """One line of a person's second-factor history: set up, new recovery codes, a recovery
    code used, turned off, or reset by an admin."""

    class Kind(models.TextChoices):
        ENROLLED = "enrolled", "Set up an authenticator app"
        CODES_RENEWED = "codes_renewed", "Made new recovery codes"
        RECOVERY_CODE_USED = "recovery_code_used", "Signed in with a recovery code"
        TURNED_OFF = "turned_off", "Turned the second factor off"
        RESET = "reset", "Reset the second factor"

    user = models.ForeignKey(
        "allora.User", on_delete=models.CASCADE, related_name="second_factor_events"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    by = models.ForeignKey(
        "allora.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.user}: {self.get_kind_display()} ({self.at:%Y-%m-%d %H:%M})"


_remembered_company: ContextVar[list | None] = ContextVar("remembered_company", default=None)


def remembering_company(job):
    """Decorate a batch job: Allora's details are read once for all it does (its emails)."""

    @functools.wraps(job)
    def run(*args, **kwargs):
        token = _remembered_company.set([])
        try:
            return job(*args, **kwargs)
        finally:
            _remembered_company.reset(token)

    return run


class CompanyProfile(models.Model):
    """Allora's own details, kept by admins on *Settings → Company*: the name and address on
    every agreement, invoice and statement, the phone numbers customers are told to call, and
    where and how to pay. One row (pk 1); until an admin saves it, `current()` gives the
    defaults. A version sent for signature records the details it names (the signed document
    never changes when they do)."""

    legal_name = models.CharField(max_length=200, default="Allora")
    address = models.TextField(max_length=500, default="Raleigh, NC")
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    website = models.URLField(max_length=200, blank=True)
    emergency_phone = models.CharField(
        max_length=40, blank=True, help_text="The 24×7 number customers call in an emergency."
    )
    remit_to = models.TextField(
        "remit to",
        max_length=500,
        blank=True,
        help_text="Where checks are mailed (printed on invoices and statements).",
    )
    payment_instructions = models.TextField(
        max_length=1000,
        blank=True,
        help_text="How to pay: bank transfer details, card payments… (printed on invoices).",
    )
    logo = models.BinaryField(null=True, blank=True, editable=False)
    logo_type = models.CharField(max_length=20, blank=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        "allora.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.CheckConstraint(name="one_company_profile", condition=Q(pk=1))]

    def __str__(self):
        return self.legal_name

    @classmethod
    def current(cls) -> "CompanyProfile":
        """The saved details, or the defaults: one query, or none inside `remembering_company`
        once read (a batch job's emails read them once, not once per email)."""
        box = _remembered_company.get()
        if box is None:
            return cls._read()
        if not box:
            box.append(cls._read())
        return box[0]

    @classmethod
    def _read(cls) -> "CompanyProfile":
        return cls.objects.filter(pk=1).first() or cls(pk=1)

    @property
    def logo_data_uri(self) -> str:
        """The logo as a data: URI (PDFs and the settings page embed it), or ""."""
        if not self.logo:
            return ""
        return f"data:{self.logo_type};base64,{base64.b64encode(bytes(self.logo)).decode()}"

    @property
    def address_lines(self) -> list[str]:
        return [line.strip() for line in self.address.splitlines() if line.strip()]

    def party_record(self) -> dict:
        """Allora as a version records it when sent (see agreements.document.parties_record)."""
        return {
            "legal_name": self.legal_name,
            "address": ", ".join(self.address_lines),
            "phone": self.phone,
            "email": self.email,
        }
