from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory

from agreements.forms import CrispyForm, agreement_field
from agreements.models import Agreement, ServiceKind
from allora.validation import MAX_COUNT, BoundedDateField, query_id
from delivery.forms import AfterHoursFields
from scheduling.models import Visit, technicians

from .models import Invoice, Payment, RateCard, RateCardLine, RateKind

PRICE_ERRORS = {
    "invalid": "Enter a price in dollars, such as 150 or 149.50.",
    "max_decimal_places": "Prices have at most two decimals (cents).",
    "max_digits": "That price is too large.",
    "min_value": "A price cannot be negative.",
}


class RateCardForm(CrispyForm, forms.ModelForm):
    class Meta:
        model = RateCard
        fields = ["title", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class RateCardLineForm(forms.ModelForm):
    price = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, error_messages=PRICE_ERRORS
    )
    unit = forms.CharField(
        max_length=20, required=False, help_text="Left empty: hour, or month for hosting."
    )
    position = forms.IntegerField(
        min_value=0, max_value=MAX_COUNT, initial=0, widget=forms.HiddenInput
    )

    class Meta:
        model = RateCardLine
        fields = ["kind", "name", "unit", "price", "position"]

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind and not data.get("unit"):
            data["unit"] = "month" if kind == RateKind.HOSTING else "hour"
        return data


class BaseLineFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        seen_kinds, seen_names = set(), set()
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                continue
            kind, name = form.cleaned_data.get("kind"), form.cleaned_data.get("name", "")
            if kind != RateKind.HOSTING and kind in seen_kinds:
                form.add_error("kind", f"“{RateKind(kind).label}” is listed twice.")
            if name.lower() in seen_names:
                form.add_error("name", f"The name “{name}” is used twice.")
            seen_kinds.add(kind)
            seen_names.add(name.lower())


RateCardLineFormSet = inlineformset_factory(
    RateCard,
    RateCardLine,
    form=RateCardLineForm,
    formset=BaseLineFormSet,
    extra=2,
    can_delete=True,
)


class PublishForm(CrispyForm, forms.Form):
    effective_date = BoundedDateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Agreements drafted on or after this date use these rates. "
        "Running terms keep their locked rates.",
    )


# Invoicing ---------------------------------------------------------------------------------

DATE = {"widget": forms.DateInput(attrs={"type": "date"})}
DATE_ERRORS = {"invalid": "Enter a date such as 2027-03-15."}


def _date_field(label, **kwargs):
    return BoundedDateField(label=label, error_messages=DATE_ERRORS, **DATE, **kwargs)


class PaymentForm(CrispyForm, forms.Form):
    amount = forms.DecimalField(
        label="Amount ($)",
        max_digits=12,
        decimal_places=2,
        error_messages={
            "invalid": "Enter an amount in dollars, such as 1170 or 585.50.",
            "max_decimal_places": "An amount has at most two decimals (cents).",
            "max_digits": "That amount is too large.",
        },
    )
    received_on = _date_field("Received on")
    method = forms.ChoiceField(choices=Payment.Method.choices, initial=Payment.Method.ACH)
    reference = forms.CharField(
        max_length=100, required=False, help_text="Check number or bank reference (optional)."
    )


class VoidForm(CrispyForm, forms.Form):
    reason = forms.CharField(
        label="Why is this invoice void?", max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )


class ExportForm(CrispyForm, forms.Form):
    start = _date_field("Issued from")
    end = _date_field("Issued to (inclusive)")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        return data


class InvoiceFilterForm(forms.Form):
    """The staff list's filters (a GET form: a bad value is shown as an error, never a 500); the
    customer is the shared search box (``agreements.pages.customer_filter``)."""

    status = forms.ChoiceField(
        choices=[("", "All statuses"), *Invoice.Status.choices], required=False
    )
    number = forms.CharField(max_length=20, required=False)
    issued_from = _date_field("Issued from", required=False)
    issued_to = _date_field("to", required=False)

    def filter(self, invoices):
        if not self.is_valid():
            return invoices
        data = self.cleaned_data
        if data["status"]:
            invoices = invoices.filter(status=data["status"])
        if data["number"]:
            invoices = invoices.filter(number__icontains=data["number"].strip())
        if data["issued_from"]:
            invoices = invoices.filter(issued_on__gte=data["issued_from"])
        if data["issued_to"]:
            invoices = invoices.filter(issued_on__lte=data["issued_to"])
        return invoices


class TimeAgreementForm(forms.Form):
    agreement = agreement_field(Agreement.objects.live().select_related("customer"))


class TimeEntryForm(CrispyForm, AfterHoursFields):
    """Hours worked on an agreement: against one of its visits, its prescheduled block or its
    Emergency Support line (the choices are built for the agreement). Emergency hours started
    outside business hours (or marked so) are after-hours hours."""

    # A text field shown as a select: any visit of the agreement is accepted (not only the
    # recent ones listed), and a wrong value gets our message.
    work = forms.CharField(label="Worked on", widget=forms.Select)
    work_date = _date_field("Date")
    hours = forms.DecimalField(
        max_digits=5,
        decimal_places=2,
        error_messages={
            "invalid": "Enter the hours as a number, such as 2 or 1.5.",
            "max_decimal_places": "Hours have at most two decimals, such as 1.25.",
            "max_digits": "That is too many hours.",
        },
    )
    technician = forms.ModelChoiceField(queryset=technicians(), empty_label=None)
    note = forms.CharField(max_length=300, required=False)

    field_order = ["work", "work_date", "hours", "start_time", "after_hours", "technician"]

    def __init__(self, *args, agreement, visits, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.agreement = agreement
        self.fields["technician"].queryset = technicians()
        self.fields["work"].widget.choices = [
            ("Services", [(f"line:{line.pk}", line_label(line)) for line in lines]),
            ("Visits", [(f"visit:{visit.pk}", visit_label(visit)) for visit in visits]),
        ]
        self._lines = {line.pk: line for line in lines}

    def clean_work(self):
        kind, _, text = self.cleaned_data["work"].partition(":")
        pk = query_id(text)
        if kind == "line" and pk in self._lines:
            return {"line": self._lines[pk], "visit": None}
        visit = (
            Visit.objects.filter(pk=pk, agreement=self.agreement).select_related("line").first()
            if kind == "visit" and pk
            else None
        )
        if visit is None:
            raise forms.ValidationError("Choose a visit or a service of this agreement.")
        return {"line": None, "visit": visit}


def line_label(line) -> str:
    if line.kind == ServiceKind.PRESCHEDULED:
        hours = f"{line.hours_per_month.normalize():f}"
        return f"Prescheduled Services block ({hours} h per month)"
    return line.get_kind_display()


def visit_label(visit) -> str:
    label = f"{visit.line.get_kind_display()} visit, {visit.local_start:%a %b %-d, %Y %H:%M}"
    return label + (" (cancelled)" if visit.status == Visit.Status.CANCELLED else "")
