from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from . import signing
from .models import Contact, Customer
from .pages import warn_recorded_parties


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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Before saving: versions awaiting signature keep the name and address they were sent with.
        customer = self.get_object(request, object_id) if request.method == "GET" else None
        if customer is not None:
            awaiting = ", ".join(
                f"{version.agreement.number} version {version.number}"
                for version in signing.awaiting_signature(customer)
            )
            if awaiting:
                messages.warning(
                    request,
                    f"Awaiting signature: {awaiting}. The name and address are part of what is "
                    "signed, so these versions keep the ones they were sent with; after saving a "
                    "change you can recall and resend them from the agreement page.",
                )
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        awaiting = list(signing.awaiting_signature(obj)) if change else []
        super().save_model(request, obj, form, change)
        warn_recorded_parties(request, awaiting)


@admin.register(Contact)
class ContactAdmin(SimpleHistoryAdmin):
    list_display = ["name", "customer", "email", "is_authorized_signer", "has_portal_access"]
    search_fields = ["name", "email", "customer__legal_name"]
    # Search boxes, not dropdowns of every customer and every user (issue 14).
    autocomplete_fields = ["customer", "user"]


# Terms and conditions versions and response tiers are not here: admins keep them on their own
# settings pages (/settings/terms/, /settings/response-tiers/, agreements/views_settings.py),
# where the model methods enforce that what an agreement was written on never changes.
