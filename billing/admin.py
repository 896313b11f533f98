from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import DiscountPolicy, RateCard, RateCardLine


class RateCardLineInline(admin.TabularInline):
    model = RateCardLine
    extra = 0

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.is_draft

    has_add_permission = has_delete_permission = has_change_permission


@admin.register(RateCard)
class RateCardAdmin(SimpleHistoryAdmin):
    list_display = ["__str__", "status", "effective_date", "published_at"]
    inlines = [RateCardLineInline]

    def get_readonly_fields(self, request, obj=None):
        # Published cards are immutable here as everywhere else.
        if obj is not None and not obj.is_draft:
            return [field.name for field in obj._meta.fields]
        return ["status", "effective_date", "published_by", "published_at", "created_by"]


@admin.register(DiscountPolicy)
class DiscountPolicyAdmin(SimpleHistoryAdmin):
    list_display = ["service_kind", "percent", "effective_date"]
