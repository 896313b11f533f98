from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Also reaches invited users who never set a password (Django skips them by default)."""

    def get_users(self, email):
        return get_user_model()._default_manager.filter(email__iexact=email, is_active=True)


class ApiTokenForm(forms.Form):
    """A personal API token's name (profile page; rendered field by field with crispy)."""

    name = forms.CharField(
        max_length=100, label="Token name", help_text="What it is for, e.g. “RMM sync”."
    )
