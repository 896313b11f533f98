from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import Contact, Customer


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = ["name", "email", "phone", "is_authorized_signer", "is_billing_contact"]


@admin.register(Customer)
class CustomerAdmin(SimpleHistoryAdmin):
    list_display = ["legal_name", "city", "status", "time_zone"]
    list_filter = ["status"]
    search_fields = ["legal_name"]
    inlines = [ContactInline]


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ["name", "customer", "email", "is_authorized_signer", "has_portal_access"]
    search_fields = ["name", "email", "customer__legal_name"]
