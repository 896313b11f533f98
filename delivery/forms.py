"""Forms of service delivery, staff and portal alike: projects (a new project, a revised estimate
or change order, the approver's decision), emergency requests (filed in the portal or taken by
phone, resolved) and the hours worked on either.

They render with crispy-bootstrap5 (``CrispyForm``); templates add the <form> tag and buttons.
The rules are in the services (``delivery/projects.py``, ``delivery/emergencies.py``): their
``ValidationError`` goes back onto the form with ``add_errors``."""

from django import forms
from django.utils import timezone

from agreements.forms import CrispyForm, customer_field
from allora.validation import BoundedDateField, BoundedDateTimeField

from . import emergencies


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


class HoursForm(CrispyForm, forms.Form):
    """Hours worked on one thing whose page it sits on (a project, an emergency request)."""

    work_date = BoundedDateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    hours = forms.DecimalField(max_digits=5, decimal_places=2)
    note = forms.CharField(required=False, max_length=300)


# Projects -------------------------------------------------------------------------------------


class ProjectForm(CrispyForm, forms.Form):
    customer = customer_field()
    title = forms.CharField(max_length=200)
    scope = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}))
    hours = forms.DecimalField(label="Estimated hours", max_digits=7, decimal_places=2)


class EstimateForm(CrispyForm, forms.Form):
    hours = forms.DecimalField(label="Hours", max_digits=7, decimal_places=2)
    description = forms.CharField(
        label="What the hours are for", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


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
