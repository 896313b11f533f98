from django.contrib import admin, messages
from django.db.models import Exists, OuterRef
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from . import signing
from .models import AgreementVersion, Contact, Customer, ResponseTier, TermsTemplate
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


class NotedModelAdmin(admin.ModelAdmin):
    """Shows ``change_page_note(obj)`` above a change page, e.g. why the row is read-only."""

    def change_page_note(self, obj) -> str:
        raise NotImplementedError

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id) if request.method == "GET" else None
        note = self.change_page_note(obj) if obj is not None else ""
        if note:
            messages.info(request, note)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(TermsTemplate)
class TermsTemplateAdmin(NotedModelAdmin):
    """Terms and conditions versions. A draft version can be edited until it is published; a
    published version, or one an agreement was written on, is read-only and cannot be deleted
    (signed documents never change): new terms are a new version, offered to new agreements."""

    list_display = ["version", "title", "published_at", "in_use"]
    list_display_links = ["version", "title"]
    search_fields = ["title", "=version"]
    ordering = ["-version"]
    fields = ["version", "title", "body", "published_at"]
    readonly_fields = ["published_at"]
    actions = ["publish"]

    def get_queryset(self, request):
        used = AgreementVersion.objects.filter(terms_template=OuterRef("pk"))
        return super().get_queryset(request).annotate(used=Exists(used))

    @admin.display(boolean=True, description="Used by agreements", ordering="used")
    def in_use(self, terms):
        return terms.used

    def get_changeform_initial_data(self, request):
        return {
            "version": TermsTemplate.next_version(),
            **super().get_changeform_initial_data(request),
        }

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and not (obj and obj.is_frozen())

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_frozen())

    def change_page_note(self, terms):
        if not terms.is_frozen():
            return (
                "A draft: no agreement can use it until it is published (the Publish action "
                "on the list). Once published it can no longer change."
            )
        state = "used by agreements" if terms.is_in_use() else "published"
        return (
            f"Terms v{terms.version} are {state}, so they can no longer be edited or deleted: "
            "a signed document never changes. To change the terms, add a new version and "
            "publish it; new agreements are drafted on it and signed ones keep theirs."
        )

    @admin.action(
        description="Publish the selected terms (offered to new agreements)", permissions=["change"]
    )
    def publish(self, request, queryset):
        now = timezone.now()
        published = [terms for terms in queryset.order_by("version") if terms.publish(now=now)]
        self.message_user(
            request,
            f"Published: {', '.join(f'v{terms.version}' for terms in published)}."
            if published
            else "The selected terms were already published.",
            messages.SUCCESS if published else messages.WARNING,
        )


@admin.register(ResponseTier)
class ResponseTierAdmin(NotedModelAdmin):
    """Emergency Support response guarantees. Once an agreement sent for signature names a
    tier, its guarantee (name, minutes, business hours) is read-only: it can be retired (not
    offered to new agreements) and a new tier added instead. A tier in use is never deleted."""

    list_display = ["name", "response_minutes", "business_hours_only", "is_active", "in_sent"]
    list_filter = ["is_active", "business_hours_only"]
    search_fields = ["name"]
    ordering = ["response_minutes", "name"]

    def get_queryset(self, request):
        sent = ResponseTier.sent_lines().filter(response_tier=OuterRef("pk"))
        return super().get_queryset(request).annotate(sent=Exists(sent))

    @admin.display(boolean=True, description="In sent agreements", ordering="sent")
    def in_sent(self, tier):
        return tier.sent

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_in_sent_agreement():
            return ResponseTier.GUARANTEE_FIELDS
        return ()

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj and obj.is_in_use())

    def change_page_note(self, tier):
        if not tier.is_in_sent_agreement():
            return ""
        return (
            f"“{tier.name}” is named in agreements sent for signature, which never change: "
            "its name and response time are read-only. Untick Active to stop offering it to "
            "new agreements, and add a new tier for a different guarantee."
        )
