import zoneinfo
from pathlib import Path

from crispy_forms.helper import FormHelper
from django import forms
from django.contrib.auth import get_user_model
from django.db import models
from django.db.models import Q
from django.forms.utils import flatatt
from django.template.loader import get_template
from django.urls import reverse

from allora.clientip import client_ip
from allora.validation import MAX_COUNT, BoundedDateField, BoundedDateTimeField, query_id

from . import lifecycle
from .drawing import check_drawing
from .models import (
    Agreement,
    AgreementVersion,
    Contact,
    Customer,
    RateReview,
    ResponseTier,
    ServiceKind,
    ServiceLine,
    Signature,
    TermsTemplate,
)

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


# One customer or agreement chosen in a search box ------------------------------------------


class SearchSelect(forms.Widget):
    """A search box with suggestions as one types (htmx, from the view ``url_name``, which reads
    ``<name>_name``) and the hidden id of the suggestion chosen (static/js/search-select.js sets
    it): never a dropdown of every customer or agreement (issue 14: 10,004 options)."""

    template_name = "agreements/_search_select.html"

    class Media:
        js = ["js/search-select.js"]

    def __init__(self, *, url_name, url_query="", attrs=None):
        super().__init__(attrs)
        self.url_name, self.url_query = url_name, url_query

    def value_from_datadict(self, data, files, name):
        return (data.get(name, ""), data.get(f"{name}_name", ""))

    def value_omitted_from_data(self, data, files, name):
        return name not in data and f"{name}_name" not in data

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        pk, text = value if isinstance(value, tuple) else ("", "")
        widget = context["widget"]
        widget.update(pk=pk, text=text, url=reverse(self.url_name) + self.url_query)
        widget["attrs_html"] = flatatt(widget["attrs"])
        return context

    def render(self, name, value, attrs=None, renderer=None):
        # The project's templates (templates/agreements/), which the form renderer does not see.
        return get_template(self.template_name).render(self.get_context(name, value, attrs))


class SearchChoiceField(forms.Field):
    """One row of ``queryset`` chosen with a `SearchSelect`: the id a suggestion set, checked
    against the queryset; without JavaScript (no id), what was typed, looked up exactly by
    ``lookup(queryset, text)``."""

    default_error_messages = {
        "invalid_choice": "That choice is not available; pick one of the suggestions.",
        "not_found": "Nothing matches “%(text)s”: type part of it and pick a suggestion.",
    }

    def __init__(self, *, queryset, url_name, lookup, placeholder="", url_query="", **kwargs):
        self.queryset, self.lookup = queryset, lookup
        attrs = {"class": "form-control", "placeholder": placeholder}
        widget = SearchSelect(url_name=url_name, url_query=url_query, attrs=attrs)
        kwargs.setdefault("widget", widget)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        """(id, text) for the widget: as posted, or from an initial object or id."""
        if isinstance(value, tuple):
            return value
        if not isinstance(value, models.Model):
            pk = query_id(str(value)) if value not in self.empty_values else None
            value = self.queryset.filter(pk=pk).first() if pk else None
        return ("", "") if value is None else (value.pk, str(value))

    def to_python(self, value):
        pk_text, text = value if isinstance(value, tuple) else (value, "")
        pk_text, text = str(pk_text or "").strip(), str(text or "").strip()[:200]
        if pk_text:
            pk = query_id(pk_text)
            found = self.queryset.filter(pk=pk).first() if pk else None
            if found is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice"
                )
            return found
        if text:
            found = self.lookup(self.queryset, text)
            if found is None:
                raise forms.ValidationError(
                    self.error_messages["not_found"], code="not_found", params={"text": text}
                )
            return found
        return None


def _customer_named(queryset, text):
    """The customer whose legal name (any case) or import reference is ``text``."""
    return (
        queryset.filter(legal_name__iexact=text).first()
        or queryset.filter(external_ref=text).first()
    )


def _agreement_named(queryset, text):
    """The agreement whose number (any case; a suggestion reads "number – customer") or import
    reference is ``text``."""
    number = text.split(" – ")[0].strip()
    return queryset.filter(Q(number__iexact=number) | Q(external_ref=text)).first()


def customer_field(queryset=None, *, active_only=False, **kwargs) -> SearchChoiceField:
    """A customer chosen by searching its name (suggestions: ``agreements:customer_options``;
    ``active_only``: the inactive ones are neither suggested nor accepted)."""
    if active_only:
        queryset = Customer.objects.exclude(status=Customer.Status.INACTIVE)
    kwargs["error_messages"] = {
        "invalid_choice": "That customer cannot be chosen here; pick one of the suggestions.",
        "not_found": "No customer is named “%(text)s”: type part of the name and pick one of "
        "the suggestions.",
        **kwargs.get("error_messages", {}),
    }
    return SearchChoiceField(
        queryset=Customer.objects.all() if queryset is None else queryset,
        url_name="agreements:customer_options",
        lookup=_customer_named,
        placeholder="Type part of the customer's name…",
        url_query="?active=1" if active_only else "",
        **kwargs,
    )


def agreement_field(queryset, **kwargs) -> SearchChoiceField:
    """An agreement chosen by searching its number or customer (suggestions:
    ``agreements:agreement_options``, the live agreements)."""
    kwargs["error_messages"] = {
        "invalid_choice": "Choose an active agreement.",
        "not_found": "No active agreement is numbered “%(text)s”: type part of the number or of "
        "the customer's name and pick one of the suggestions.",
        **kwargs.get("error_messages", {}),
    }
    return SearchChoiceField(
        queryset=queryset,
        url_name="agreements:agreement_options",
        lookup=_agreement_named,
        placeholder="Choose an agreement: type part of its number or the customer's name…",
        **kwargs,
    )


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


PAYMENT_TERMS = [(15, "Net 15"), (30, "Net 30"), (45, "Net 45"), (60, "Net 60")]


class VersionForm(CrispyForm, forms.ModelForm):
    """The settings of a draft version: terms template, billing day, payment terms, start."""

    payment_terms_days = forms.TypedChoiceField(
        choices=PAYMENT_TERMS, coerce=int, initial=30, label="Payment terms"
    )
    billing_day = forms.IntegerField(
        min_value=1,
        max_value=28,
        initial=1,
        help_text="Day of the month invoices are issued (1–28, so every month has it).",
    )

    class Meta:
        model = AgreementVersion
        fields = ["terms_template", "billing_day", "payment_terms_days", "start_date"]
        widgets = {"start_date": forms.DateInput(attrs={"type": "date"})}
        field_classes = {"start_date": BoundedDateField}

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["terms_template"].queryset = TermsTemplate.objects.filter(
            published_at__isnull=False
        )
        self.fields["terms_template"].empty_label = None
        self.fields["terms_template"].label = "Terms and conditions"

    def clean_start_date(self):
        start = self.cleaned_data.get("start_date")
        if start and start < self.today:
            raise forms.ValidationError("The start date cannot be in the past.")
        return start


class AgreementCreateForm(VersionForm):
    customer = customer_field(
        active_only=True,
        error_messages={
            "invalid_choice": "That customer is inactive or no longer exists: agreements are "
            "drafted for active customers only.",
        },
    )

    class Meta(VersionForm.Meta):
        fields = ["customer", *VersionForm.Meta.fields]


HOURS_ERRORS = {
    "min_value": "Hours must be more than zero.",
    "invalid": "Enter a number of hours, such as 2 or 1.5.",
    "max_decimal_places": "Use at most two decimals.",
}


class ServiceLineForm(CrispyForm, forms.ModelForm):
    """One Exhibit B line; which fields show depends on the kind of service."""

    FIELDS_BY_KIND = {
        ServiceKind.MAINTENANCE: ["labor_rate", "hours_per_visit", "checklist", "notes"],
        ServiceKind.PRESCHEDULED: ["labor_rate", "hours_per_month", "notes"],
        ServiceKind.EMERGENCY: ["response_tier", "notes"],
        ServiceKind.HOSTING: ["package_name", "quantity", "notes"],
    }
    DEFAULT_CHECKLIST = [
        "Inspections",
        "Updates",
        "Backups",
        "Scans",
        "Workplace optimization",
    ]

    hours_per_visit = forms.DecimalField(
        max_digits=5, decimal_places=2, min_value=0.01, error_messages=HOURS_ERRORS
    )
    hours_per_month = forms.DecimalField(
        max_digits=6, decimal_places=2, min_value=0.01, error_messages=HOURS_ERRORS
    )
    checklist = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="One task per line; technicians tick them at each visit.",
    )
    package_name = forms.ChoiceField(label="Hosting package")
    quantity = forms.IntegerField(
        min_value=1,
        max_value=MAX_COUNT,
        initial=1,
        error_messages={"max_value": f"Enter a quantity from 1 to {MAX_COUNT}."},
    )

    class Meta:
        model = ServiceLine
        fields = [
            "labor_rate",
            "hours_per_visit",
            "hours_per_month",
            "checklist",
            "response_tier",
            "package_name",
            "quantity",
            "notes",
        ]

    def __init__(self, *args, kind, hosting_packages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        keep = self.FIELDS_BY_KIND[kind]
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        if "checklist" in self.fields:
            items = self.instance.checklist if self.instance.pk else self.DEFAULT_CHECKLIST
            self.initial["checklist"] = "\n".join(items)
        if "package_name" in self.fields:
            self.fields["package_name"].choices = [
                (name, f"{name} — ${price:,.2f} a month (list price)")
                for name, price in hosting_packages
            ]
        if "response_tier" in self.fields:
            # A deactivated tier is offered to no new line; a line that names it keeps it.
            self.fields["response_tier"].queryset = ResponseTier.objects.filter(
                Q(is_active=True) | Q(pk=self.instance.response_tier_id)
            )
            self.fields["response_tier"].required = True
            self.fields["response_tier"].empty_label = None
            self.fields["response_tier"].label = "Response guarantee"
        if "labor_rate" in self.fields:
            self.fields["labor_rate"].label = "Billed at the"
            self.fields["labor_rate"].choices = ServiceLine.LaborRate.choices

    def clean_checklist(self):
        items = [line.strip() for line in self.cleaned_data["checklist"].splitlines()]
        items = [item for item in items if item]
        if not items:
            raise forms.ValidationError("List at least one task.")
        return items


class SendForm(CrispyForm, forms.Form):
    signer = forms.ModelChoiceField(
        queryset=Contact.objects.none(),
        empty_label=None,
        help_text="Only the customer's authorized signers are listed.",
    )

    def __init__(self, *args, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["signer"].queryset = customer.contacts.filter(is_authorized_signer=True)
        self.fields["signer"].label_from_instance = lambda c: f"{c.name} ({c.email})"


class SignForm(forms.Form):
    """The evidence of an electronic signature: consent, typed name, and the signature drawn on
    the pad or typed (the typed name, rendered in a script font)."""

    consent = forms.BooleanField(
        label="I agree to sign this agreement electronically; my electronic signature has the "
        "same effect as a handwritten one.",
        error_messages={"required": "Tick the consent to sign electronically."},
    )
    typed_name = forms.CharField(
        label="Type your full name",
        max_length=200,
        error_messages={"required": "Type your full name."},
    )
    title = forms.CharField(label="Your title", max_length=100, required=False)
    method = forms.ChoiceField(
        label="How do you want to sign?",
        choices=[(Signature.Method.DRAWN, "Draw"), (Signature.Method.TYPED, "Type")],
        initial=Signature.Method.DRAWN,
        widget=forms.RadioSelect,
        required=False,  # a form without the choice (no script, an old page) draws
    )
    drawing = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean(self):
        cleaned = super().clean()
        cleaned["method"] = cleaned.get("method") or Signature.Method.DRAWN
        if cleaned["method"] == Signature.Method.DRAWN:
            if not cleaned.get("drawing"):
                self.add_error(
                    "drawing", "Draw your signature in the box, or choose Type to type it."
                )
            else:
                try:
                    check_drawing(cleaned["drawing"])
                except forms.ValidationError as error:
                    self.add_error("drawing", error)
        else:
            cleaned["drawing"] = ""
        return cleaned

    def evidence(self, request):
        return {
            **self.cleaned_data,
            "ip": client_ip(request),
            "user_agent": request.headers.get("user-agent", ""),
        }


class TerminationRequestForm(forms.Form):
    """The customer's written request to end the agreement."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), label="Why do you want to end the agreement?"
    )
    typed_name = forms.CharField(label="Type your full name", max_length=200)
    confirm = forms.BooleanField(
        label="I confirm this written request to terminate the agreement.",
        error_messages={"required": "Tick the confirmation to file the request."},
    )


class RecordTerminationForm(CrispyForm, forms.Form):
    """Staff record a request that came by letter or email, with the time it was received."""

    received_at = BoundedDateTimeField(
        label="Received at (customer's local time)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    channel = forms.ChoiceField(choices=[("letter", "Letter"), ("email", "Email")])
    typed_name = forms.CharField(label="Name of the person who wrote", max_length=200)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, tz, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz

    def clean_received_at(self):
        # The form's naive time is the customer's wall clock, not the server's.
        value = self.cleaned_data["received_at"]
        return value.replace(tzinfo=None).replace(tzinfo=self.tz)


UPLIFT_ERRORS = {
    "invalid": "Enter the uplift as a number of percent, such as 5 or 3.5.",
    "max_decimal_places": "Use at most two decimals.",
    "min_value": "The uplift cannot be below −100%%.",
    "max_digits": "That uplift is too large.",
    "max_whole_digits": "That uplift is too large.",
}


class RateReviewForm(forms.Form):
    method = forms.ChoiceField(
        choices=RateReview.Method.choices,
        # Bootstrap's radio beside its label (without the class, a phone put long labels below it).
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        initial="keep",
    )
    uplift_percent = forms.DecimalField(
        label="Uplift (%)",
        max_digits=6,
        decimal_places=2,
        min_value=-100,
        required=False,
        error_messages=UPLIFT_ERRORS,
    )

    def clean(self):
        data = super().clean()
        method = self.cleaned_data.get("method")
        if method and "uplift_percent" not in self.errors:
            try:
                lifecycle.check_uplift(method, self.cleaned_data.get("uplift_percent"))
            except forms.ValidationError as error:
                # Next to the percent: a typed uplift is never dropped in silence (issue 13).
                self.add_error("uplift_percent", error)
        return data


class FinalizeRateReviewForm(forms.Form):
    """Finalizing the next term's rates; an increase after the notice deadline (``late`` =
    (deadline, opt-out until)) needs the admin's explicit confirmation."""

    confirm_late_increase = forms.BooleanField(
        required=False,
        error_messages={"required": "Tick the box to confirm the increase after the deadline."},
    )

    def __init__(self, *args, late=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.late = late
        field = self.fields["confirm_late_increase"]
        if late:
            field.required = True
            field.label = "I confirm this increase after the customer's notice deadline."
        else:
            del self.fields["confirm_late_increase"]

    @property
    def warning(self):
        if not self.late:
            return ""
        deadline, until = self.late
        return (
            f"The customer's notice deadline of {deadline:%B %-d, %Y} has passed. Finalizing this "
            f"increase gives them until {until:%B %-d, %Y} to end the agreement at the term end "
            "without it."
        )


class BulkRateReviewForm(RateReviewForm):
    agreements = forms.ModelMultipleChoiceField(
        queryset=Agreement.objects.none(),
        error_messages={"required": "Select at least one agreement."},
    )

    def __init__(self, *args, queryset, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agreements"].queryset = queryset


class ImportForm(CrispyForm, forms.Form):
    """The admins' import page: a JSON or CSV file in the import format."""

    file = forms.FileField(
        label="File to import",
        help_text="JSON or CSV in the import format (see the README). PDFs of the paper "
        "contracts travel inside it as base64.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in (".json", ".csv"):
            raise forms.ValidationError("Choose a .json or .csv file.")
        return upload


# Settings: terms and conditions versions, response tiers -----------------------------------


class TermsTemplateForm(CrispyForm, forms.ModelForm):
    """A draft version's title and body (the version number is given when it is added)."""

    body = forms.CharField(
        label="Terms and conditions",
        max_length=TermsTemplate.BODY_MAX_LENGTH,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 24, "class": "font-monospace"}),
        help_text="Plain text. A line starting with “## ” is a section heading (“## 3. Fees”); "
        "a blank line starts a new paragraph. At most "
        f"{TermsTemplate.BODY_MAX_LENGTH:,} characters.",
        error_messages={
            "max_length": "The terms can be at most %(limit_value)s characters long (they have "
            "%(show_value)s).",
        },
    )

    class Meta:
        model = TermsTemplate
        fields = ["title", "body"]
        help_texts = {"title": "The heading of the agreement document, e.g. Customer Agreement."}
        error_messages = {"title": {"required": "Give the terms a title."}}

    def clean_body(self):
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        if not body.strip():
            raise forms.ValidationError("Write the terms: the body cannot be empty.")
        if not TermsTemplate(body=body).sections():
            raise forms.ValidationError("The terms have no text.")
        return body


class ResponseTierForm(CrispyForm, forms.ModelForm):
    """A response guarantee. Once an agreement sent for signature names the tier, its guarantee
    fields are shown disabled (Django ignores what is posted for them)."""

    # A guarantee longer than a week is no emergency response.
    MAX_MINUTES = 7 * 24 * 60

    response_minutes = forms.IntegerField(
        label="Response time (minutes)",
        min_value=1,
        max_value=MAX_MINUTES,
        help_text=f"60 for one hour, 240 for four hours; at most a week ({MAX_MINUTES:,} minutes).",
    )

    class Meta:
        model = ResponseTier
        fields = ["name", "response_minutes", "business_hours_only", "is_active"]
        labels = {
            "business_hours_only": "Counted in business hours only",
            "is_active": "Offered to new agreements",
        }
        help_texts = {
            "name": "As the agreement names it, e.g. “1 hour, 24×7” or “4 business hours”.",
            "business_hours_only": "Unticked: the clock runs around the clock (24×7).",
        }
        error_messages = {
            "name": {
                "required": "Give the tier a name.",
                "unique": "There is already a tier with this name.",
            }
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        locked = self.instance.locked_fields() if self.instance.pk else ()
        for name in locked:
            self.fields[name].disabled = True
