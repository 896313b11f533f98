from django.urls import path

from . import views

app_name = "scheduling"

urlpatterns = [
    path("schedule/preview/", views.schedule_preview, name="schedule_preview"),
    # Staff
    path("schedule/", views.calendar, name="calendar"),
    path("schedule/visits/", views.visit_list, name="visit_list"),
    path("schedule/visits/<int:pk>/", views.visit_detail, name="visit_detail"),
    path("schedule/visits/<int:pk>/move/", views.visit_move, name="visit_move"),
    path("schedule/visits/<int:pk>/reassign/", views.visit_reassign, name="visit_reassign"),
    path("schedule/visits/<int:pk>/cancel/", views.visit_cancel, name="visit_cancel"),
    path("schedule/visits/<int:pk>/complete/", views.visit_complete, name="visit_complete"),
    path("schedule/services/", views.line_list, name="line_list"),
    path("schedule/services/<int:pk>/technician/", views.line_assign, name="line_assign"),
    path("schedule/services/<int:pk>/schedule/", views.line_schedule, name="line_schedule"),
    # Technicians (staff): their own visits
    path("schedule/mine/", views.my_schedule, name="my_schedule"),
    path("schedule/mine/calendar/", views.my_calendar, name="my_calendar"),
    path("schedule/mine/feed/new/", views.my_feed_regenerate, name="my_feed_regenerate"),
    # iCalendar feeds at secret addresses
    path("feeds/<slug:token>.ics", views.feed, name="feed"),
]

# Emergency Support (scheduling/views_emergency.py)
from . import views_emergency as emergency  # noqa: E402

urlpatterns += [
    path("emergencies/", emergency.emergency_list, name="emergency_list"),
    path("emergencies/new/", emergency.emergency_create, name="emergency_create"),
    path("emergencies/<int:pk>/", emergency.emergency_detail, name="emergency_detail"),
    path(
        "emergencies/<int:pk>/acknowledge/",
        emergency.emergency_acknowledge,
        name="emergency_acknowledge",
    ),
    path("emergencies/<int:pk>/close/", emergency.emergency_close, name="emergency_close"),
    path("emergencies/<int:pk>/time/", emergency.emergency_log_time, name="emergency_log_time"),
    path("portal/emergencies/", emergency.portal_emergency_list, name="portal_emergency_list"),
    path(
        "portal/emergencies/new/",
        emergency.portal_emergency_create,
        name="portal_emergency_create",
    ),
    path(
        "portal/emergencies/<int:pk>/",
        emergency.portal_emergency_detail,
        name="portal_emergency_detail",
    ),
]
