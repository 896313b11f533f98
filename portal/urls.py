"""Every customer-facing URL, under /portal/, in the ``portal`` namespace."""

from django.urls import path  # noqa: F401

app_name = "portal"

# Home, contacts, agreements, signing, termination, schedule, calendar, invoices.
urlpatterns = []

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
