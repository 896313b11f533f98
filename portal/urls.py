"""Every customer-facing URL, under /portal/, in the ``portal`` namespace."""

from django.urls import path

from .views import agreements, home, invoices, schedule

app_name = "portal"

# Home, contacts, agreements, signing, termination, schedule, calendar, invoices.
urlpatterns = [
    path("", home.home, name="home"),
    path("contacts/<int:pk>/", home.contact, name="contact"),
    path("agreements/", agreements.agreement_list, name="agreement_list"),
    path("agreements/<int:pk>/", agreements.agreement_detail, name="agreement_detail"),
    path("agreements/<int:pk>/sign/", agreements.agreement_sign, name="agreement_sign"),
    path(
        "agreements/<int:pk>/signed-documents/",
        agreements.signed_documents,
        name="signed_documents",
    ),
    path("versions/<int:pk>/signed.pdf", agreements.signed_pdf, name="signed_pdf"),
    path("agreements/<int:pk>/terminate/", agreements.terminate, name="terminate"),
    path(
        "termination-requests/<int:pk>/withdraw/",
        agreements.withdraw_termination,
        name="withdraw_termination",
    ),
    path("schedule/", schedule.schedule, name="schedule"),
    path("schedule/calendar/", schedule.calendar, name="calendar"),
    path("schedule/feed/new/", schedule.feed_regenerate, name="feed_regenerate"),
    path("visits/<int:pk>/", schedule.visit_detail, name="visit_detail"),
    path("invoices/", invoices.invoice_list, name="invoice_list"),
    path("invoices/<int:pk>/", invoices.invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/invoice.pdf", invoices.invoice_pdf, name="invoice_pdf"),
    path("statement/", invoices.statement, name="statement"),
    path("statement/statement.pdf", invoices.statement_pdf, name="statement_pdf"),
    path("credit-notes/<int:pk>/note.pdf", invoices.credit_note_pdf, name="credit_note_pdf"),
]

# ---------------------------------------------------------------------------------------------
# Projects and emergencies (service delivery, seen by the customer).
# ---------------------------------------------------------------------------------------------

from .views import emergencies, projects  # noqa: E402

urlpatterns += [
    path("projects/", projects.project_list, name="project_list"),
    path("projects/<int:pk>/", projects.project_detail, name="project_detail"),
    path("estimates/<int:pk>/decide/", projects.estimate_decide, name="estimate_decide"),
    path("emergencies/", emergencies.emergency_list, name="emergency_list"),
    path("emergencies/new/", emergencies.emergency_create, name="emergency_create"),
    path("emergencies/<int:pk>/", emergencies.emergency_detail, name="emergency_detail"),
]
