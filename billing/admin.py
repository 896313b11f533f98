from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from allora.validation import ADMIN_DATE_FIELDS

from .models import (
    CreditNote,
    DiscountPolicy,
    Invoice,
    InvoiceLine,
    Payment,
    RateCard,
    RateCardLine,
    TimeEntry,
)


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
    formfield_overrides = ADMIN_DATE_FIELDS


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InvoiceLineInline(ReadOnlyInline):
    model = InvoiceLine
    fields = ["description", "quantity", "list_rate", "discount_percent", "amount"]


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = ["received_on", "amount", "to_credit", "method", "reference", "recorded_by"]


class CreditNoteInline(ReadOnlyInline):
    model = CreditNote
    fields = ["number", "issued_on", "total", "applied_to_invoice", "to_customer_credit", "reason"]


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):
    """To look things up: invoices change only through the app (payments, void), never here."""

    list_display = ["number", "customer", "period", "issued_on", "due_on", "status", "total"]
    list_filter = ["status", "kind"]
    search_fields = ["number", "customer__legal_name", "agreement__number"]
    list_select_related = ["customer"]
    inlines = [InvoiceLineInline, PaymentInline, CreditNoteInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TimeEntry)
class TimeEntryAdmin(admin.ModelAdmin):
    """Admins correct a wrong entry here until it is billed; a billed one stays as it was."""

    list_display = ["work_date", "agreement", "for_label", "hours", "technician", "invoice"]
    list_select_related = ["agreement", "line", "project", "technician", "invoice"]
    raw_id_fields = [
        "agreement",
        "line",
        "visit",
        "emergency_request",
        "project",
        "technician",
        "created_by",
    ]
    readonly_fields = ["invoice", "created_at"]

    def has_add_permission(self, request):
        return False  # time is logged in the app, which checks visits and dates

    def has_change_permission(self, request, obj=None):
        return obj is None or obj.invoice_id is None

    has_delete_permission = has_change_permission
