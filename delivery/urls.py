"""Staff URLs of service delivery, in the ``delivery`` namespace. The customer's pages of
emergencies and projects are in ``portal/urls.py``."""

from django.urls import path

from . import views

app_name = "delivery"

urlpatterns = [
    # Emergency Support
    path("emergencies/", views.emergency_list, name="emergency_list"),
    path("emergencies/new/", views.emergency_create, name="emergency_create"),
    path("emergencies/<int:pk>/", views.emergency_detail, name="emergency_detail"),
    path(
        "emergencies/<int:pk>/acknowledge/",
        views.emergency_acknowledge,
        name="emergency_acknowledge",
    ),
    path("emergencies/<int:pk>/close/", views.emergency_close, name="emergency_close"),
    path("emergencies/<int:pk>/time/", views.emergency_log_time, name="emergency_log_time"),
    # Projects
    path("projects/", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:pk>/", views.project_detail, name="project_detail"),
    path("projects/<int:pk>/estimate/", views.project_estimate, name="project_estimate"),
    path("projects/<int:pk>/time/", views.project_log_time, name="project_log_time"),
    path("projects/<int:pk>/start/", views.project_start, name="project_start"),
    path("projects/<int:pk>/complete/", views.project_complete, name="project_complete"),
    path("projects/<int:pk>/invoice/", views.project_invoice, name="project_invoice"),
    path(
        "projects/milestones/<int:pk>/complete/",
        views.project_milestone_complete,
        name="project_milestone_complete",
    ),
]
