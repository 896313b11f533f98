from django.urls import path

from . import views

app_name = "scheduling"

urlpatterns = [
    path("schedule/preview/", views.schedule_preview, name="schedule_preview"),
]
