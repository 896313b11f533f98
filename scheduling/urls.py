from django.urls import path

from . import views

app_name = "scheduling"

urlpatterns = [
    path("schedule/preview/", views.schedule_preview, name="schedule_preview"),
    # Staff
    path("schedule/", views.calendar, name="calendar"),
    path("schedule/visits/", views.visit_list, name="visit_list"),
    path("schedule/visits/export.csv", views.visit_list, {"export": True}, name="visit_export"),
    path("schedule/visits/<int:pk>/", views.visit_detail, name="visit_detail"),
    path("schedule/visits/<int:pk>/move/", views.visit_move, name="visit_move"),
    path("schedule/visits/<int:pk>/reassign/", views.visit_reassign, name="visit_reassign"),
    path("schedule/visits/<int:pk>/cancel/", views.visit_cancel, name="visit_cancel"),
    path("schedule/visits/<int:pk>/complete/", views.visit_complete, name="visit_complete"),
    path("schedule/services/", views.line_list, name="line_list"),
    path("schedule/services/<int:pk>/technician/", views.line_assign, name="line_assign"),
    path("schedule/services/<int:pk>/schedule/", views.line_schedule, name="line_schedule"),
    path(
        "schedule/services/<int:pk>/technician/preview/",
        views.line_assign_preview,
        name="line_assign_preview",
    ),
    path("schedule/services/<int:pk>/resolve/", views.line_resolve, name="line_resolve"),
    # Technicians (staff): their own visits
    path("schedule/mine/", views.my_schedule, name="my_schedule"),
    path("schedule/mine/calendar/", views.my_calendar, name="my_calendar"),
    path("schedule/mine/feed/new/", views.my_feed_regenerate, name="my_feed_regenerate"),
    # iCalendar feeds at secret addresses
    path("feeds/<slug:token>.ics", views.feed, name="feed"),
]
