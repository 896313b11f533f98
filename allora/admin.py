from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.urls import reverse
from django.utils.html import format_html
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, PeriodicTask, SolarSchedule

from . import second_factor
from .models import ApiToken, SecondFactorEvent, User

# The admin site keeps what an Allora admin uses. The jobs run on crontabs (allora/celery.py):
# periodic tasks, crontabs and intervals stay (README: pausing a job, changing its time);
# solar events and one-off clocked times are celery-beat features Allora does not use. The
# worker's heartbeat is shown on the staff home page ("Worker seen … ago"), not here.
admin.site.unregister([SolarSchedule, ClockedSchedule, PeriodicTask])


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    """celery-beat's periodic task form without the solar and clocked schedules."""

    fieldsets = tuple(
        (
            name,
            {**options, "fields": [f for f in options["fields"] if f not in ("solar", "clocked")]},
        )
        for name, options in beat_admin.PeriodicTaskAdmin.fieldsets
    )


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "role", "customer", "is_active"]
    list_filter = ["role", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    # A search box, not a dropdown of every customer (issue 14).
    autocomplete_fields = ["customer"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Person", {"fields": ["first_name", "last_name"]}),
        ("Role", {"fields": ["role", "customer", "is_active"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
        ("Second factor", {"fields": ["second_factor"]}),
    ]
    readonly_fields = ["second_factor"]
    add_fieldsets = [
        (None, {"fields": ["email", "password1", "password2", "role", "customer"]}),
    ]

    @admin.display(description="Second factor")
    def second_factor(self, user):
        """On or off, with the page where an admin resets it (and sees its history)."""
        state = "on" if second_factor.has_second_factor(user) else "off"
        url = reverse("second_factor_reset", args=[user.pk])
        return format_html('{} · <a href="{}">History and reset…</a>', state, url)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Admins see who holds which token and can revoke one; a token's secret is never shown."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__email", "prefix"]
    readonly_fields = ["user", "name", "prefix", "token_sha256", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # tokens are created by their owner on the profile page, shown once


@admin.register(SecondFactorEvent)
class SecondFactorEventAdmin(admin.ModelAdmin):
    """The record of second factors set up, used and reset: read-only."""

    list_display = ["at", "user", "kind", "by"]
    list_filter = ["kind"]
    search_fields = ["user__email", "by__email"]

    def has_change_permission(self, request, obj=None):
        return False  # a record: nothing in it is added, edited or removed by hand

    has_add_permission = has_delete_permission = has_change_permission
