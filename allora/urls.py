from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from agreements import views_import

from . import api, views, views_signin
from .tenancy import public

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("staff/", views.staff_home, name="staff_home"),
    path("staff/figures/refresh/", views.refresh_staff_figures, name="staff_figures_refresh"),
    path("settings/company/", views.company_settings, name="company_settings"),
    path("search/", views.global_search, name="search"),
    path(
        "accounts/login/",
        public(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
        name="login",
    ),
    path("accounts/logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path(
        "accounts/password-reset/",
        public(views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        public(auth_views.PasswordResetDoneView.as_view()),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        public(auth_views.PasswordResetConfirmView.as_view()),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/invitation/<uidb64>/<token>/",
        public(views.InvitationAcceptView.as_view()),
        name="invitation_accept",
    ),
    path(
        "accounts/reset/done/",
        public(auth_views.PasswordResetCompleteView.as_view()),
        name="password_reset_complete",
    ),
    path("accounts/profile/", views.profile, name="profile"),
    path(
        "accounts/second-factor/",
        views_signin.second_factor_verify,
        name="second_factor_verify",
    ),
    path(
        "accounts/second-factor/set-up/",
        views_signin.second_factor_enroll,
        name="second_factor_enroll",
    ),
    path(
        "accounts/second-factor/recovery-codes/",
        views_signin.second_factor_recovery_codes,
        name="second_factor_recovery_codes",
    ),
    path(
        "accounts/second-factor/turn-off/",
        views_signin.second_factor_turn_off,
        name="second_factor_turn_off",
    ),
    path(
        "accounts/users/<int:pk>/second-factor/reset/",
        views_signin.second_factor_reset,
        name="second_factor_reset",
    ),
    path("accounts/tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("agreements/import/", views_import.import_upload, name="agreement_import"),
    path("agreements/import/<int:pk>/", views_import.import_job, name="agreement_import_job"),
    path(
        "agreements/import/<int:pk>/progress/",
        views_import.import_progress,
        name="agreement_import_progress",
    ),
    path(
        "agreements/import/<int:pk>/confirm/",
        views_import.import_confirm,
        name="agreement_import_confirm",
    ),
    path("api/v1/", api.urls()),
    path("", include("agreements.urls")),
    path("", include("billing.urls")),
    path("", include("scheduling.urls")),
    path("", include("delivery.urls")),
    path("", include("integrations.urls")),
    path("portal/", include("portal.urls")),
    path("admin/", admin.site.urls),
]
