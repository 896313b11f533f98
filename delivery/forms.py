"""Forms of service delivery, staff and portal alike: projects (a new project, a revised estimate
or change order, the approver's decision), emergency requests (filed in the portal or taken by
phone, resolved) and the hours worked on either.

They render with crispy-bootstrap5 (``CrispyForm``); templates add the <form> tag and buttons.
The rules are in the services (``delivery/projects.py``, ``delivery/emergencies.py``): their
``ValidationError`` goes back onto the form with ``add_errors``."""

import re
from decimal import Decimal

from django import forms
from django.utils import timezone

from agreements.forms import CrispyForm, customer_field
from allora.validation import BoundedDateField, BoundedDateTimeField

from . import emergencies
from .models import ProjectEstimate


def posted(request):
    """The POST data, even when empty (an empty form must show its errors, not a blank form)."""
    return request.POST if request.method == "POST" else None


def add_errors(form, error):
    """A service's ``ValidationError`` onto the form: on its field when the form has one."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


class AfterHoursFields(forms.Form):
    """When the work started and whether it was after hours (emergency and project work started
    outside the business hours is after-hours work, billed at the after-hours rate)."""

    start_time = forms.TimeField(
        label="Started at (local time, optional)",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Emergency or project work started outside business hours (Mon–Fri "
        "08:00–17:00), on a weekend or a company holiday is after-hours work.",
    )
    after_hours = forms.BooleanField(label="After hours", required=False)


class HoursForm(CrispyForm, AfterHoursFields):
    """Hours worked on one thing whose page it sits on (a project, an emergency request)."""

    work_date = BoundedDateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    hours = forms.DecimalField(max_digits=5, decimal_places=2)
    note = forms.CharField(required=False, max_length=300)

    field_order = ["work_date", "hours", "start_time", "after_hours", "note"]


# Projects -------------------------------------------------------------------------------------


MILESTONE_LINE = re.compile(
    r"^(?P<title>.+?)\s*[:|]\s*\$?(?P<value>\d[\d,]*(?:\.\d+)?)\s*(?P<percent>%?)$"
)


def parse_milestones(text) -> list:
    """Milestones typed one per line, "Design: 40%" or "Handover: 1,200.00", as (title, amount
    or None, percent or None); the service checks that they add up to the fixed price."""
    rows = []
    for number, line in enumerate(filter(None, map(str.strip, text.splitlines())), start=1):
        match = MILESTONE_LINE.match(line)
        if match is None:
            raise forms.ValidationError(
                "Line %(number)s: write “Title: 40%%” or “Title: 1200.00”.",
                params={"number": number},
            )
        value = Decimal(match["value"].replace(",", ""))  # digits only (the pattern)
        if match["percent"]:
            rows.append((match["title"], None, value))
        else:
            rows.append((match["title"], value, None))
    return rows


class BillingTermsFields(forms.Form):
    """How the project is invoiced: fixed price (on approval, on completion or by milestones)
    or time and materials (monthly or on completion)."""

    # Not required: time and materials, monthly, unless staff say otherwise.
    billing = forms.ChoiceField(
        label="Billing", choices=ProjectEstimate.Billing.choices, initial="time", required=False
    )
    schedule = forms.ChoiceField(
        label="Invoiced",
        choices=ProjectEstimate.Schedule.choices,
        initial="monthly",
        required=False,
        help_text="Fixed price: on approval, on completion or by milestones. Time and "
        "materials: monthly or on completion.",
    )
    fixed_price = forms.DecimalField(
        label="Fixed price (optional: hours × rate otherwise)",
        required=False,
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("999999999.99"),
    )
    milestones = forms.CharField(
        label="Milestones (fixed price by milestones)",
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Design: 40%\nInstallation: 60%"}),
        help_text="One per line, a percent of the fixed price or an amount; they add up to "
        "the fixed price.",
    )

    def clean_milestones(self):
        return parse_milestones(self.cleaned_data.get("milestones") or "")

    def terms(self) -> dict:
        """The billing terms for ``create_project`` / ``propose_estimate``."""
        data = self.cleaned_data
        return {
            "billing": data.get("billing") or ProjectEstimate.Billing.TIME,
            "schedule": data.get("schedule") or ProjectEstimate.Schedule.MONTHLY,
            "fixed_price": data.get("fixed_price"),
            "milestones": data.get("milestones") or [],
        }


class ProjectForm(CrispyForm, BillingTermsFields):
    customer = customer_field()
    title = forms.CharField(max_length=200)
    scope = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}))
    hours = forms.DecimalField(label="Estimated hours", max_digits=7, decimal_places=2)

    field_order = ["customer", "title", "scope", "hours"]


class EstimateForm(CrispyForm, BillingTermsFields):
    """A revised estimate (with its billing terms) or, once approved, a change order (which
    follows the approved terms: ``change_order=True`` drops the terms' fields)."""

    hours = forms.DecimalField(label="Hours", max_digits=7, decimal_places=2)
    description = forms.CharField(
        label="What the hours are for", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    field_order = ["hours", "description"]

    def __init__(self, *args, change_order=False, **kwargs):
        super().__init__(*args, **kwargs)
        if change_order:
            for name in BillingTermsFields.base_fields:
                del self.fields[name]

    def terms(self) -> dict:
        return super().terms() if "billing" in self.fields else {}


class DecisionForm(CrispyForm, forms.Form):
    typed_name = forms.CharField(label="Type your full name", max_length=200, required=False)
    comment = forms.CharField(
        label="Comment (optional)", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


# Emergency Support ----------------------------------------------------------------------------


class EmergencyForm(CrispyForm, forms.Form):
    summary = forms.CharField(
        label="What is wrong", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )
    contact_name = forms.CharField(label="Who should we call", max_length=200)
    contact_phone = forms.CharField(label="Their phone number", max_length=30)
    site = forms.CharField(label="Site (where to go)", max_length=300)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            # The service gives the plain message; the browser must not block an empty field
            # first (and the form must not report it in other words).
            field.required = False
            field.error_messages["required"] = emergencies.REQUIRED.get(name, "Required.")

    def file(self, *, customer, received_at, channel, by):
        """File the request through the service; its errors go onto the form. None on error."""
        data = self.cleaned_data
        try:
            return emergencies.file_request(
                customer,
                summary=data.get("summary") or "",
                contact_name=data.get("contact_name") or "",
                contact_phone=data.get("contact_phone") or "",
                site=data.get("site") or "",
                channel=channel,
                received_at=received_at,
                by=by,
                now=timezone.now(),
            )
        except forms.ValidationError as error:
            add_errors(self, error)
            return None


class PhoneEmergencyForm(EmergencyForm):
    customer = customer_field()
    received_at = BoundedDateTimeField(
        label="Received at (the customer's local time)",
        widget=forms.DateTimeInput({"type": "datetime-local"}),
    )

    field_order = ["customer", "received_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customer"].required = True
        self.fields["customer"].error_messages["required"] = "Choose the customer who called."
        self.fields["received_at"].required = True
        self.fields["received_at"].error_messages["required"] = "Enter when the call came in."


class CloseForm(CrispyForm, forms.Form):
    resolution = forms.CharField(
        label="What was done", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
