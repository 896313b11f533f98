from django.urls import path

from . import views

app_name = "agreements"

urlpatterns = [
    path("customers/", views.customer_list, name="customer_list"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<int:pk>/", views.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", views.customer_edit, name="customer_edit"),
    path(
        "customers/<int:customer_pk>/contacts/new/",
        views.contact_create,
        name="contact_create",
    ),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/invite/", views.contact_invite, name="contact_invite"),
    path("contacts/<int:pk>/revoke/", views.contact_revoke, name="contact_revoke"),
    path("portal/", views.portal_home, name="portal_home"),
    path("portal/contacts/<int:pk>/", views.portal_contact, name="portal_contact"),
]
