from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("rates/", views.ratecard_list, name="ratecard_list"),
    path("rates/new/", views.ratecard_create, name="ratecard_create"),
    path("rates/<int:pk>/", views.ratecard_detail, name="ratecard_detail"),
    path("rates/<int:pk>/edit/", views.ratecard_edit, name="ratecard_edit"),
    path("rates/<int:pk>/publish/", views.ratecard_publish, name="ratecard_publish"),
    path("rates/<int:pk>/new-version/", views.ratecard_new_version, name="ratecard_new_version"),
]
