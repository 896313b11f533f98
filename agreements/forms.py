import zoneinfo

from crispy_forms.helper import FormHelper
from django import forms
from django.contrib.auth import get_user_model

from .models import Contact, Customer

US_ZONES_FIRST = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
]


def time_zone_choices():
    others = sorted(zoneinfo.available_timezones() - set(US_ZONES_FIRST) - {"localtime"})
    return [(zone, zone.replace("_", " ")) for zone in US_ZONES_FIRST + others]


class CrispyForm:
    """Forms render with crispy-bootstrap5; templates add the <form> tag and buttons."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class CustomerForm(CrispyForm, forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        initial="America/New_York",
        error_messages={"invalid_choice": "“%(value)s” is not a known time zone."},
    )

    class Meta:
        model = Customer
        fields = [
            "legal_name",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "phone",
            "time_zone",
            "status",
        ]

    def clean_state(self):
        state = self.cleaned_data["state"].strip().upper()
        if len(state) != 2 or not state.isalpha():
            raise forms.ValidationError("Use the two-letter state code, e.g. NC.")
        return state


class ContactForm(CrispyForm, forms.ModelForm):
    class Meta:
        model = Contact
        fields = [
            "name",
            "title",
            "email",
            "phone",
            "is_authorized_signer",
            "is_project_approver",
            "is_billing_contact",
        ]

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer

    def clean_email(self):
        email = self.cleaned_data["email"].strip().lower()
        same = Contact.objects.filter(customer=self.customer, email__iexact=email)
        if self.instance.pk:
            same = same.exclude(pk=self.instance.pk)
        if same.exists():
            raise forms.ValidationError("Another contact of this customer has this email.")
        # A contact with a portal account signs in with this email: it must stay unique.
        users = get_user_model().objects.filter(email__iexact=email)
        if self.instance.user_id:
            users = users.exclude(pk=self.instance.user_id)
            if users.exists():
                raise forms.ValidationError("This email is already used by another user.")
        return email

    def save(self, commit=True):
        contact = super().save(commit=False)
        contact.customer = self.customer
        if commit:
            contact.save()
            if contact.user_id and contact.user.email != contact.email:
                contact.user.email = contact.email
                contact.user.save(update_fields=["email"])
        return contact
