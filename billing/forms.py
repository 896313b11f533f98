from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet, inlineformset_factory

from agreements.forms import CrispyForm, agreement_field, customer_field
from agreements.models import Agreement, ServiceKind
from allora.validation import MAX_COUNT, BoundedDateField, query_id
from delivery.forms import AfterHoursFields
from scheduling.models import Visit, technicians

from . import bookkeeping, receivables
from .models import Invoice, Payment, RateCard, RateCardLine, RateKind, ReminderStep
from .oneoff import MAX_LINES, MAX_PRICE, MAX_QUANTITY, MAX_TERMS_DAYS, Item

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
    # Customer credit is applied with "Apply credit", not typed in as a payment.
    method = forms.ChoiceField(
        choices=[c for c in Payment.Method.choices if c[0] != Payment.Method.CREDIT],
        initial=Payment.Method.ACH,
    )
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


class AccountingExportForm(CrispyForm, forms.Form):
    """The accounting export's choices (a GET form: a bad value is a form error)."""

    format = forms.ChoiceField(choices=list(bookkeeping.FORMATS.items()))
    kind = forms.ChoiceField(choices=list(bookkeeping.KINDS.items()))
    start = _date_field("From")
    end = _date_field("To (inclusive)")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            try:
                bookkeeping.check_range(start, end)
            except ValidationError as error:
                self.add_error("end", error)
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


# Receivables (billing/receivables.py) ---------------------------------------------------------


class AgingForm(forms.Form):
    """The aging's date (a GET form): today when not given."""

    as_of = _date_field("As of", required=False)

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_as_of(self):
        as_of = self.cleaned_data["as_of"] or self.today
        receivables.check_aging_date(as_of, today=self.today)
        return as_of


class StatementForm(forms.Form):
    """A statement's period (a GET form)."""

    start = _date_field("From")
    end = _date_field("To (inclusive)")

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            try:
                receivables.check_statement_range(start, end)
            except forms.ValidationError as error:
                self.add_error("end", error)
        return data


class ReminderStepForm(CrispyForm, forms.ModelForm):
    days = forms.IntegerField(
        label="Days from the due date",
        min_value=-60,
        max_value=365,
        help_text="Negative before the due date (−3: three days before), 0 on it, positive "
        "after it.",
    )

    class Meta:
        model = ReminderStep
        fields = ["days", "active"]

    def clean_days(self):
        days = self.cleaned_data["days"]
        if ReminderStep.objects.filter(days=days).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("There is already a reminder on that day.")
        return days


# One-off invoices and credit notes ---------------------------------------------------------


class OneOffInvoiceForm(CrispyForm, forms.Form):
    """The customer (a search box), optionally one of its agreements, the date and terms; the
    lines are `ItemFormSet`."""

    customer = customer_field(active_only=True)
    agreement = agreement_field(
        Agreement.objects.select_related("customer"),
        required=False,
        help_text="Optional: one of this customer's agreements the invoice belongs with.",
    )
    issued_on = _date_field("Invoice date")
    terms_days = forms.IntegerField(
        label="Payment terms (days)",
        min_value=0,
        max_value=MAX_TERMS_DAYS,
        initial=30,
        error_messages={
            "invalid": "Enter the payment terms in days, such as 30.",
            "min_value": "Payment terms are 0 to 120 days.",
            "max_value": "Payment terms are 0 to 120 days.",
        },
    )

    def clean(self):
        data = super().clean()
        customer, agreement = data.get("customer"), data.get("agreement")
        if customer and agreement and agreement.customer_id != customer.pk:
            self.add_error("agreement", f"{agreement.number} is not one of {customer}'s.")
        return data


class ItemForm(forms.Form):
    description = forms.CharField(max_length=300)
    quantity = forms.DecimalField(
        max_digits=7,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_QUANTITY,
        error_messages={
            "invalid": "Enter a quantity such as 1 or 2.5.",
            "min_value": "A quantity is more than 0.",
            "max_value": "A quantity is at most 10,000.",
            "max_decimal_places": "A quantity has at most two decimals.",
            "max_digits": "A quantity is at most 10,000.",
        },
    )
    unit = forms.CharField(max_length=20, required=False, help_text="Left empty: each.")
    unit_price = forms.DecimalField(
        label="Unit price ($)",
        max_digits=8,
        decimal_places=2,
        min_value=0,
        max_value=MAX_PRICE - Decimal("0.01"),
        error_messages={
            **PRICE_ERRORS,
            "max_value": "A unit price is less than $1,000,000.00.",
            "max_digits": "A unit price is less than $1,000,000.00.",
        },
    )

    def item(self) -> Item:
        data = self.cleaned_data
        return Item(
            description=data["description"],
            quantity=data["quantity"],
            unit_price=data["unit_price"],
            unit=data["unit"] or "each",
        )


ItemFormSet = forms.formset_factory(
    ItemForm,
    extra=0,
    min_num=1,
    max_num=MAX_LINES,
    validate_min=True,
    validate_max=True,
    absolute_max=MAX_LINES,
)


class CreditNoteForm(CrispyForm, forms.Form):
    """All that remains of an invoice, or amounts of some of its lines (a field per line that
    has something left to credit), with the reason."""

    WHOLE, LINES = "whole", "lines"

    scope = forms.ChoiceField(
        label="Credit",
        choices=[(WHOLE, "All that remains of the invoice"), (LINES, "Some lines")],
        initial=WHOLE,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        max_length=300, widget=forms.Textarea(attrs={"rows": 2}), help_text="Shown to the customer."
    )

    def __init__(self, *args, lines, remaining, **kwargs):
        super().__init__(*args, **kwargs)
        self.line_fields = []
        for line in lines:
            left = remaining.get(line.pk)
            if not left or left <= 0:
                continue
            name = f"line_{line.pk}"
            self.fields[name] = forms.DecimalField(
                label=f"{line.description} (up to ${left:,.2f})",
                required=False,
                max_digits=12,
                decimal_places=2,
                min_value=Decimal("0.01"),
                max_value=left,
                error_messages={
                    "invalid": "Enter an amount in dollars, such as 150 or 99.50.",
                    "min_value": "A credit must be more than $0.00.",
                    "max_value": f"At most what remains of this line (${left:,.2f}).",
                    "max_decimal_places": "An amount has at most two decimals (cents).",
                    "max_digits": "That amount is too large.",
                },
            )
            self.line_fields.append((line, name))

    def clean(self):
        data = super().clean()
        if data.get("scope") == self.LINES:
            data["lines"] = [
                (line, data[name]) for line, name in self.line_fields if data.get(name)
            ]
            if not data["lines"] and not self.errors:
                raise forms.ValidationError("Enter the amount to credit on at least one line.")
        return data
