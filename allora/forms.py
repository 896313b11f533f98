from django import forms
from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import get_user_model

from . import search


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Also reaches invited users who never set a password (Django skips them by default)."""

    def get_users(self, email):
        return get_user_model()._default_manager.filter(email__iexact=email, is_active=True)


class SearchForm(forms.Form):
    """The staff's global search box (``allora.search``)."""

    q = forms.CharField(
        label="Search",
        min_length=search.MIN_LENGTH,
        max_length=search.MAX_LENGTH,
        error_messages={
            "required": "Type an agreement or invoice number, a customer, or a contact.",
            "min_length": f"Type at least {search.MIN_LENGTH} characters to search.",
            "max_length": f"Search for at most {search.MAX_LENGTH} characters.",
        },
    )


class ApiTokenForm(forms.Form):
    """A personal API token's name (profile page; rendered field by field with crispy)."""

    name = forms.CharField(
        max_length=100, label="Token name", help_text="What it is for, e.g. “RMM sync”."
    )


class CodeForm(forms.Form):
    """A code from the authenticator app (or, when verifying, a recovery code)."""

    code = forms.CharField(
        label="6-digit code from the app",
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True}),
    )


class VerifyForm(CodeForm):
    """The code owed after the password, and whether to skip it in this browser from now on."""

    remember = forms.BooleanField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["code"].label = "Code from your authenticator app, or a recovery code"
        days = settings.OTP_REMEMBER_DAYS
        self.fields["remember"].label = f"Remember this browser for {days} days"
