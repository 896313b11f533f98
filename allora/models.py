from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models import Q
from django.utils import timezone


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


class Heartbeat(models.Model):
    """The last time the Celery worker ran the periodic heartbeat: proof that jobs run."""

    name = models.CharField(max_length=50, unique=True)
    last_seen = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.name} at {self.last_seen:%Y-%m-%d %H:%M:%S}"
