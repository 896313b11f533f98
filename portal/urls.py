"""Every customer-facing URL, under /portal/, in the ``portal`` namespace."""

from django.urls import path  # noqa: F401

app_name = "portal"

# Home, contacts, agreements, signing, termination, schedule, calendar, invoices.
urlpatterns = []

# ---------------------------------------------------------------------------------------------
# Projects and emergencies (service delivery, seen by the customer).
# ---------------------------------------------------------------------------------------------

urlpatterns += []
