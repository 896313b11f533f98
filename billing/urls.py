from django.urls import path

from . import views, views_receivables

app_name = "billing"

urlpatterns = [
    path("rates/", views.ratecard_list, name="ratecard_list"),
    path("rates/new/", views.ratecard_create, name="ratecard_create"),
    path("rates/<int:pk>/", views.ratecard_detail, name="ratecard_detail"),
    path("rates/<int:pk>/edit/", views.ratecard_edit, name="ratecard_edit"),
    path("rates/<int:pk>/publish/", views.ratecard_publish, name="ratecard_publish"),
    path("rates/<int:pk>/new-version/", views.ratecard_new_version, name="ratecard_new_version"),
    # Invoices (staff)
    path("invoices/", views.invoice_list, name="invoice_list"),
    path("invoices/export/", views.invoice_export, name="invoice_export"),
    path("invoices/accounting/", views.accounting_export, name="accounting_export"),
    path("invoices/export.csv", views.invoice_list, {"export": True}, name="invoice_list_export"),
    path("invoices/new/", views.one_off_create, name="one_off_create"),
    path("invoices/<int:pk>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/invoice.pdf", views.invoice_pdf_view, name="invoice_pdf"),
    path("invoices/<int:pk>/payments/new/", views.payment_create, name="payment_create"),
    path("invoices/<int:pk>/void/", views.invoice_void, name="invoice_void"),
    path("invoices/<int:pk>/credit/", views.credit_note_create, name="credit_note_create"),
    path(
        "invoices/<int:pk>/apply-credit/", views.invoice_apply_credit, name="invoice_apply_credit"
    ),
    path("invoices/<int:pk>/resend/", views.invoice_resend, name="invoice_resend"),
    path("credit-notes/<int:pk>/", views.credit_note_detail, name="credit_note_detail"),
    path("credit-notes/<int:pk>/note.pdf", views.credit_note_pdf_view, name="credit_note_pdf"),
    path("time/", views.time_entry_list, name="time_entry_list"),
    path("time/export.csv", views.time_entry_list, {"export": True}, name="time_entry_export"),
    path("time/new/", views.time_entry_create, name="time_entry_create"),
    path(
        "agreements/<int:pk>/early-termination/",
        views.early_termination,
        name="early_termination",
    ),
    # Receivables (billing/views_receivables.py)
    path("invoices/aging/", views_receivables.aging, name="aging"),
    path("invoices/aging.csv", views_receivables.aging_csv, name="aging_csv"),
    path(
        "customers/<int:pk>/statement/",
        views_receivables.customer_statement,
        name="customer_statement",
    ),
    path(
        "customers/<int:pk>/statement.pdf",
        views_receivables.customer_statement_pdf,
        name="customer_statement_pdf",
    ),
    path("invoices/reminders/", views_receivables.reminder_steps, name="reminder_steps"),
    path(
        "invoices/reminders/<int:pk>/toggle/",
        views_receivables.reminder_step_toggle,
        name="reminder_step_toggle",
    ),
    path(
        "invoices/reminders/<int:pk>/delete/",
        views_receivables.reminder_step_delete,
        name="reminder_step_delete",
    ),
]
