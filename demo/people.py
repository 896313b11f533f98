"""Demo people for `manage.py seed_demo`: one admin, two staff, and one user per demo customer."""

from allora.models import Role, User

DEMO_PASSWORD = "allora-demo-2026"  # noqa: S105 -- demo data only, printed by make run

STAFF = [
    ("admin@allora.example", "Dana", "Whitfield", Role.ADMIN),
    ("marcus@allora.example", "Marcus", "Bell", Role.STAFF),
    ("priya@allora.example", "Priya", "Raman", Role.STAFF),
]


def ensure_user(email, first_name, last_name, role, customer=None):
    """Create the demo user once; a second run leaves it as it is."""
    user, created = User.objects.get_or_create(
        email=email,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "role": role,
            "customer": customer,
            "is_staff": role == Role.ADMIN,
            "is_superuser": role == Role.ADMIN,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def seed(*, today):
    return {email: ensure_user(email, first, last, role) for email, first, last, role in STAFF}
