from django.urls import path

from . import views, views_settings

app_name = "agreements"

urlpatterns = [
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/export.csv", views.customer_list, {"export": True}, name="customer_export"),
    path("customers/options/", views.customer_options, name="customer_options"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/feed/new/", views.customer_feed_rotate, name="customer_feed_rotate"),
    path(
        "customers/<int:customer_pk>/contacts/new/",
        views.contact_create,
        name="contact_create",
    ),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/invite/", views.contact_invite, name="contact_invite"),
    path("contacts/<int:pk>/revoke/", views.contact_revoke, name="contact_revoke"),
    # Agreements (staff)
    path("agreements/", views.agreement_list, name="agreement_list"),
    path("agreements/export.csv", views.agreement_list, {"export": True}, name="agreement_export"),
    path("agreements/new/", views.agreement_create, name="agreement_create"),
    path("agreements/options/", views.agreement_options, name="agreement_options"),
    path("agreements/<int:pk>/", views.agreement_detail, name="agreement_detail"),
    path("agreements/<int:pk>/versions/", views.agreement_versions, name="agreement_versions"),
    path("agreements/<int:pk>/edit/", views.version_edit, name="version_edit"),
    path("agreements/<int:pk>/lines/new/<str:kind>/", views.line_create, name="line_create"),
    path("lines/<int:pk>/edit/", views.line_edit, name="line_edit"),
    path("lines/<int:pk>/delete/", views.line_delete, name="line_delete"),
    path("agreements/<int:pk>/preview.pdf", views.agreement_pdf, name="agreement_pdf"),
    path("agreements/<int:pk>/send/", views.agreement_send, name="agreement_send"),
    path("agreements/<int:pk>/recall/", views.agreement_recall, name="agreement_recall"),
    path("agreements/<int:pk>/resend/", views.agreement_resend, name="agreement_resend"),
    path(
        "agreements/<int:pk>/countersign/",
        views.agreement_countersign,
        name="agreement_countersign",
    ),
    path("agreements/<int:pk>/amend/", views.agreement_amend, name="agreement_amend"),
    path("versions/<int:pk>/signed.pdf", views.signed_pdf, name="signed_pdf"),
    path("versions/<int:pk>/verify/", views.version_verify, name="version_verify"),
    path(
        "agreements/<int:pk>/termination/new/",
        views.record_termination,
        name="record_termination",
    ),
    path(
        "termination-requests/<int:pk>/withdraw/",
        views.withdraw_termination,
        name="withdraw_termination",
    ),
    path(
        "termination-requests/<int:pk>/acknowledge/",
        views.acknowledge_termination,
        name="acknowledge_termination",
    ),
    # Settings (admins): terms and conditions versions, response tiers
    path("settings/terms/", views_settings.terms_list, name="terms_list"),
    path("settings/terms/new/", views_settings.terms_create, name="terms_create"),
    path("settings/terms/<int:pk>/", views_settings.terms_detail, name="terms_detail"),
    path("settings/terms/<int:pk>/edit/", views_settings.terms_edit, name="terms_edit"),
    path("settings/terms/<int:pk>/publish/", views_settings.terms_publish, name="terms_publish"),
    path("settings/terms/<int:pk>/delete/", views_settings.terms_delete, name="terms_delete"),
    path("settings/response-tiers/", views_settings.tier_list, name="tier_list"),
    path("settings/response-tiers/new/", views_settings.tier_create, name="tier_create"),
    path("settings/response-tiers/<int:pk>/edit/", views_settings.tier_edit, name="tier_edit"),
    path(
        "settings/response-tiers/<int:pk>/toggle/", views_settings.tier_toggle, name="tier_toggle"
    ),
    path(
        "settings/response-tiers/<int:pk>/delete/", views_settings.tier_delete, name="tier_delete"
    ),
    # Renewal review (admins)
    path("renewals/", views.renewal_queue, name="renewal_queue"),
    path("renewals/export.csv", views.renewal_queue, {"export": True}, name="renewal_export"),
    path("renewals/bulk/", views.renewal_bulk, name="renewal_bulk"),
    path("renewals/<int:pk>/", views.renewal_review, name="renewal_review"),
    path("renewals/<int:pk>/preview/", views.renewal_review_preview, name="renewal_review_preview"),
    path(
        "renewals/reviews/<int:pk>/finalize/",
        views.renewal_finalize,
        name="renewal_finalize",
    ),
]
