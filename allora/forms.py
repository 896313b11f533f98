import io

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


LOGO_MAX_BYTES = 512 * 1024
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg"}


class CompanyProfileForm(forms.ModelForm):
    """Allora's details (*Settings → Company*), with an optional logo: a PNG or JPEG up to
    512 kB, checked by reading the image, not by trusting its name."""

    logo_file = forms.FileField(
        label="Logo",
        required=False,
        help_text="PNG or JPEG, at most 512 kB; printed at the top of agreements, invoices and "
        "statements.",
    )
    remove_logo = forms.BooleanField(label="Remove the logo", required=False)
    website = forms.URLField(max_length=200, required=False, assume_scheme="https")

    class Meta:
        from .models import CompanyProfile

        model = CompanyProfile
        fields = [
            "legal_name",
            "address",
            "phone",
            "email",
            "website",
            "emergency_phone",
            "remit_to",
            "payment_instructions",
        ]
        widgets = {
            "address": forms.Textarea(attrs={"rows": 3}),
            "remit_to": forms.Textarea(attrs={"rows": 3}),
            "payment_instructions": forms.Textarea(attrs={"rows": 4}),
        }
        labels = {"legal_name": "Legal name", "emergency_phone": "Emergency phone (24×7)"}

    def clean_logo_file(self):
        upload = self.cleaned_data.get("logo_file")
        if not upload:
            return None
        if upload.size > LOGO_MAX_BYTES:
            raise forms.ValidationError(
                "The logo is %(size)s kB; use one of at most 512 kB.",
                params={"size": f"{upload.size // 1024:,}"},
            )
        from PIL import Image, UnidentifiedImageError

        data = upload.read()
        try:
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format
                image.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
            raise forms.ValidationError("That file is not a PNG or JPEG image.") from error
        if kind not in LOGO_TYPES:
            raise forms.ValidationError("The logo must be a PNG or JPEG image.")
        return data, LOGO_TYPES[kind]

    def save(self, commit=True):
        profile = super().save(commit=False)
        logo = self.cleaned_data.get("logo_file")
        if logo:
            profile.logo, profile.logo_type = logo
        elif self.cleaned_data.get("remove_logo"):
            profile.logo, profile.logo_type = None, ""
        if commit:
            profile.save()
        return profile
