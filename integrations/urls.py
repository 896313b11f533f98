from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("settings/webhooks/", views.endpoint_list, name="endpoint_list"),
    path("settings/webhooks/new/", views.endpoint_create, name="endpoint_create"),
    path("settings/webhooks/<int:pk>/", views.endpoint_detail, name="endpoint_detail"),
    path("settings/webhooks/<int:pk>/edit/", views.endpoint_edit, name="endpoint_edit"),
    path("settings/webhooks/<int:pk>/delete/", views.endpoint_delete, name="endpoint_delete"),
    path("settings/webhooks/<int:pk>/test/", views.endpoint_test, name="endpoint_test"),
    path(
        "settings/webhooks/deliveries/<int:pk>/",
        views.delivery_detail,
        name="delivery_detail",
    ),
    path(
        "settings/webhooks/deliveries/<int:pk>/retry/",
        views.delivery_retry,
        name="delivery_retry",
    ),
]
