from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Also reaches invited users who never set a password (Django skips them by default)."""

    def get_users(self, email):
        return get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
