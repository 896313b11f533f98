from django.contrib import admin, messages

from allora.timeutils import local_today
from allora.validation import ADMIN_DATE_FIELDS

from .models import (
    CalendarFeed,
    Holiday,
    LineAssignment,
    ScheduleChange,
    SchedulingSettings,
    Visit,
)
from .planning import apply_holidays


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name"]
    list_filter = [("date", admin.DateFieldListFilter)]
    date_hierarchy = "date"
    search_fields = ["name"]
    formfield_overrides = ADMIN_DATE_FIELDS

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Visits planned before the holiday was added follow the holiday rule too.
        changed = apply_holidays(today=local_today())
        if changed:
            messages.info(request, f"{changed} planned visits on this holiday were updated.")


@admin.register(SchedulingSettings)
class SchedulingSettingsAdmin(admin.ModelAdmin):
    list_display = ["__str__", "holiday_policy"]

    def has_add_permission(self, request):
        return not SchedulingSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(LineAssignment)
class LineAssignmentAdmin(admin.ModelAdmin):
    list_display = ["line", "technician", "assigned_at"]
    raw_id_fields = ["line"]
    list_select_related = ["line__version__agreement__customer", "technician"]


@admin.register(ScheduleChange)
class ScheduleChangeAdmin(admin.ModelAdmin):
    list_display = ["line", "series", "effective_from", "schedule_text", "created_by"]
    readonly_fields = [f.name for f in ScheduleChange._meta.fields]

    def has_add_permission(self, request):
        return False  # staff change schedules on the line's page, which re-plans the visits


@admin.register(Visit)
class VisitAdmin(admin.ModelAdmin):
    """For looking things up; changes go through the app, which checks for conflicts."""

    list_display = ["starts_at", "agreement", "line", "technician", "status", "flag"]
    list_filter = ["status", "flag", "technician"]
    search_fields = ["agreement__number", "agreement__customer__legal_name"]
    date_hierarchy = "starts_at"
    list_select_related = ["agreement__customer", "line", "technician"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Visit._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["__str__", "created_at"]
    fields = ["customer", "technician", "created_at"]  # the token stays secret
    readonly_fields = ["customer", "technician", "created_at"]

    def has_add_permission(self, request):
        return False
