import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django import forms

from allora.validation import DATE_RANGE_MESSAGE, BoundedDateField, date_in_range

from . import recurrence
from .recurrence import ORDINALS, WEEKDAY_NAMES, RecurrenceError, RuleParts

WEEKDAY_CHOICES = list(WEEKDAY_NAMES.items())
ONE_TO_THIRTY_ONE = "The day of the month must be between 1 and 31."
HOURS = Decimal(60)


class ScheduleForm(forms.Form):
    """A visit schedule as a friendly sentence, cleaned into an RRULE, a start time and minutes.

    ``cleaned_data`` gains "rrule", "duration_minutes" and "schedule_text". Exhibit B's line form
    embeds it with prefix="schedule", which the preview view expects too.
    """

    frequency = forms.ChoiceField(
        label="Repeat",
        choices=[("monthly", "Monthly"), ("weekly", "Weekly")],
        initial="monthly",
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={
            "required": "Choose how often the visit repeats: weekly or monthly.",
            "invalid_choice": "Choose how often the visit repeats: weekly or monthly.",
        },
    )
    interval = forms.IntegerField(
        label="Every",
        min_value=1,
        max_value=12,
        initial=1,
        widget=forms.NumberInput(attrs={"class": "form-control w-5rem"}),
        error_messages={
            "required": "Enter how often it repeats, e.g. 1 for every month.",
            "invalid": "Enter how often it repeats as a whole number, e.g. 1 or 2.",
            "min_value": "It can repeat every 1 to 12 weeks or months.",
            "max_value": "It can repeat every 1 to 12 weeks or months.",
        },
    )
    monthly_mode = forms.ChoiceField(
        choices=[
            ("weekday", "On a weekday, e.g. the third Wednesday"),
            ("date", "On a date, e.g. day 15"),
        ],
        required=False,
        initial="weekday",
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={"invalid_choice": "Choose on a weekday or on a date."},
    )
    ordinal = forms.TypedChoiceField(
        label="Which",
        choices=list(ORDINALS.items()),
        coerce=int,
        empty_value=None,
        required=False,
        initial=3,
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": "Pick first, second, third, fourth or last."},
    )
    weekday = forms.ChoiceField(
        label="Weekday",
        choices=WEEKDAY_CHOICES,
        required=False,
        initial="WE",
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": "Pick a day of the week from the list."},
    )
    weekdays = forms.MultipleChoiceField(
        label="Weekdays",
        choices=WEEKDAY_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        error_messages={"invalid_choice": "Pick days of the week from the list."},
    )
    month_day = forms.IntegerField(
        label="Day of month",
        min_value=1,
        max_value=31,
        required=False,
        widget=forms.NumberInput(attrs={"class": "form-control w-5rem"}),
        error_messages={
            "invalid": ONE_TO_THIRTY_ONE,
            "min_value": ONE_TO_THIRTY_ONE,
            "max_value": ONE_TO_THIRTY_ONE,
        },
    )
    start_time = forms.TimeField(
        label="At",
        initial=dt.time(10, 0),
        widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M"),
        error_messages={
            "required": "Enter the start time, e.g. 09:00.",
            "invalid": "Enter the start time as hours and minutes, e.g. 09:00 or 14:30.",
        },
    )
    duration_hours = forms.DecimalField(
        label="For (hours)",
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("0.25"),
        max_value=12,
        initial=2,
        widget=forms.NumberInput(attrs={"class": "form-control w-6rem"}),
        error_messages={
            "required": "Enter how many hours the visit lasts, e.g. 2 or 1.5.",
            "invalid": "Enter the hours as a number, e.g. 2 or 1.5.",
            "min_value": "The visit must last at least 15 minutes (0.25 hours).",
            "max_value": "A visit can last at most 12 hours.",
            "max_whole_digits": "A visit can last at most 12 hours.",
            "max_digits": "A visit can last at most 12 hours.",
            "max_decimal_places": "Use at most two decimals for the hours, e.g. 1.25.",
        },
    )

    def __init__(self, *args, tz: str, anchor: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.tz = tz
        self.anchor = anchor

    def full_clean(self):
        super().full_clean()
        # Bootstrap draws a field in red through its class, not through aria-invalid.
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()

    def clean(self):
        data = super().clean()
        frequency, mode = data.get("frequency"), data.get("monthly_mode")
        # The template hides and disables the other mode's inputs, but a stale value there
        # must not block a schedule that does not use it.
        for name in _unused_fields(frequency, mode):
            self.errors.pop(name, None)
        if frequency == "weekly" and not data.get("weekdays"):
            self.add_error("weekdays", "Pick at least one weekday.")
        elif frequency == "monthly" and mode == "weekday":
            if data.get("ordinal") is None and "ordinal" not in self.errors:
                self.add_error("ordinal", "Pick first, second, third, fourth or last.")
            if not data.get("weekday") and "weekday" not in self.errors:
                self.add_error("weekday", "Pick the weekday.")
        elif frequency == "monthly" and mode == "date":
            if data.get("month_day") is None and "month_day" not in self.errors:
                self.add_error("month_day", "Enter the day of the month, from 1 to 31.")
        elif frequency == "monthly" and "monthly_mode" not in self.errors:
            self.add_error("monthly_mode", "Choose on a weekday or on a date.")
        if self.errors:
            return data

        if not date_in_range(self.anchor):
            raise forms.ValidationError(
                f"The schedule would start on {self.anchor.isoformat()}. {DATE_RANGE_MESSAGE}"
            )
        parts = _rule_parts(data)
        minutes = int((data["duration_hours"] * HOURS).quantize(Decimal(1), ROUND_HALF_UP))
        start_time = data["start_time"]
        try:
            rule = recurrence.build_rrule(parts)
            recurrence.validate_rule(
                rule, start_time=start_time, duration_minutes=minutes, tz=self.tz, start=self.anchor
            )
            text = recurrence.describe(rule, start_time=start_time, duration_minutes=minutes)
        except RecurrenceError as exc:
            raise forms.ValidationError(str(exc)) from exc
        data.update(rrule=rule, duration_minutes=minutes, schedule_text=text)
        return data

    @classmethod
    def initial_for(cls, *, rrule: str, start_time: dt.time, duration_minutes: int) -> dict:
        """Initial data to edit a stored schedule; raises RecurrenceError for other rules."""
        parts = recurrence.parse_rrule(rrule)
        initial = {name: field.initial for name, field in cls.base_fields.items()}
        initial.update(
            frequency=parts.frequency,
            interval=parts.interval,
            start_time=start_time,
            duration_hours=_hours(duration_minutes),
        )
        if parts.frequency == "weekly":
            initial["weekdays"] = list(parts.weekdays)
        elif parts.month_day is not None:
            initial.update(monthly_mode="date", month_day=parts.month_day)
        else:
            initial.update(monthly_mode="weekday", ordinal=parts.ordinal, weekday=parts.weekdays[0])
        return initial

    def occurrences_preview(self, count: int = 6) -> list[tuple[dt.datetime, dt.datetime]]:
        """The next `count` (start, end) visits from the anchor date, in the form's time zone."""
        if not self.is_valid():
            raise ValueError("The schedule is not valid; check form.errors first.")
        data = self.cleaned_data
        found = recurrence.next_occurrences(
            data["rrule"],
            start_time=data["start_time"],
            duration_minutes=data["duration_minutes"],
            tz=self.tz,
            after=self.anchor,
            count=count,
        )
        return [
            (recurrence.to_local(s, self.tz), recurrence.to_local(e, self.tz)) for s, e in found
        ]


def _unused_fields(frequency: str | None, mode: str | None) -> set[str]:
    if frequency == "weekly":
        return {"monthly_mode", "ordinal", "weekday", "month_day"}
    if frequency == "monthly" and mode == "date":
        return {"weekdays", "ordinal", "weekday"}
    if frequency == "monthly" and mode == "weekday":
        return {"weekdays", "month_day"}
    return set()


def _rule_parts(data: dict) -> RuleParts:
    if data["frequency"] == "weekly":
        return RuleParts("weekly", data["interval"], weekdays=tuple(data["weekdays"]))
    if data["monthly_mode"] == "date":
        return RuleParts("monthly", data["interval"], month_day=data["month_day"])
    return RuleParts(
        "monthly", data["interval"], weekdays=(data["weekday"],), ordinal=data["ordinal"]
    )


def _hours(minutes: int) -> Decimal:
    """Minutes as hours for the form: 120 -> 2, 90 -> 1.5, 50 -> 0.83."""
    hours = (Decimal(minutes) / HOURS).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return hours.quantize(Decimal(1)) if hours == hours.to_integral_value() else hours.normalize()


# Visits -----------------------------------------------------------------------------------


class TechnicianChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.email


def _technician_field(*, required=True, label="Technician"):
    from .models import technicians

    return TechnicianChoiceField(
        queryset=technicians(),
        required=required,
        label=label,
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={
            "required": "Pick a technician.",
            "invalid_choice": "Pick a technician from the list.",
        },
    )


class VisitMoveForm(forms.Form):
    """A new local date and times for one visit (in the customer's zone), optionally with
    another technician (the alternatives of a conflict post both)."""

    date = BoundedDateField(
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
        error_messages={"required": "Enter the date.", "invalid": "Enter a date as YYYY-MM-DD."},
    )
    start_time = forms.TimeField(
        label="From",
        widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M"),
        error_messages={
            "required": "Enter the start time.",
            "invalid": "Enter a time, e.g. 10:00.",
        },
    )
    end_time = forms.TimeField(
        label="To",
        widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M"),
        error_messages={"required": "Enter the end time.", "invalid": "Enter a time, e.g. 12:00."},
    )

    def __init__(self, *args, visit, **kwargs):
        local_start, local_end = visit.local_start, visit.local_end
        kwargs.setdefault(
            "initial",
            {
                "date": local_start.date(),
                "start_time": local_start.time().replace(tzinfo=None),
                "end_time": local_end.time().replace(tzinfo=None),
                "technician": visit.technician_id,
            },
        )
        super().__init__(*args, **kwargs)
        self.visit = visit
        self.fields["technician"] = _technician_field(required=False, label="Technician")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["end_time"] <= data["start_time"]:
            raise forms.ValidationError(
                "The end time must be after the start time (a visit ends on the day it starts)."
            )
        zone = self.visit.tz
        data["starts_at"] = recurrence.local_to_utc(data["date"], data["start_time"], zone)
        data["ends_at"] = recurrence.local_to_utc(data["date"], data["end_time"], zone)
        data["technician"] = data.get("technician") or self.visit.technician
        return data


class TechnicianForm(forms.Form):
    """Pick a technician: the default one of a line, or another one for a single visit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technician"] = _technician_field()


class ResolveForm(forms.Form):
    """Resolve a line's clashing visits together: the chosen ones go to a technician, at their
    own time or at one new start time each on its day."""

    visits = forms.TypedMultipleChoiceField(
        coerce=int,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        error_messages={
            "required": "Tick at least one visit.",
            "invalid_choice": "Tick visits of this list only (one was resolved meanwhile?).",
        },
    )
    start_time = forms.TimeField(
        label="New start time (optional)",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M"),
        help_text="Leave empty to keep each visit's time; otherwise every ticked visit starts "
        "at this time on its own day (customer's time), with the same length.",
        error_messages={"invalid": "Enter a time, e.g. 14:00."},
    )

    def __init__(self, *args, visits, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["technician"] = _technician_field(label="Give them to")
        self.fields["visits"].choices = [(visit.pk, visit.local_label) for visit in visits]
        self.order_fields(["visits", "technician", "start_time"])


class VisitCompleteForm(forms.Form):
    """The visit report: ticked checklist items, findings and the hours worked."""

    done = forms.MultipleChoiceField(
        label="Checklist",
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
        error_messages={"invalid_choice": "Tick items of this visit's checklist only."},
    )
    findings = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5, "class": "form-control"}),
        help_text="What you found and did; the customer reads this in the portal.",
    )
    hours_worked = forms.DecimalField(
        label="Hours worked",
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.25"),
        max_value=24,
        widget=forms.NumberInput(attrs={"class": "form-control w-8rem", "step": "0.25"}),
        error_messages={
            "required": "Enter the hours worked, e.g. 2 or 1.5.",
            "invalid": "Enter the hours as a number, e.g. 2 or 1.5.",
            "min_value": "Enter at least 0.25 hours (15 minutes).",
            "max_value": "A visit report covers at most 24 hours.",
            "max_decimal_places": "Use at most two decimals, e.g. 1.25.",
            "max_digits": "A visit report covers at most 24 hours.",
            "max_whole_digits": "A visit report covers at most 24 hours.",
        },
    )

    def __init__(self, *args, visit, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["done"].choices = [
            (str(index), entry["item"]) for index, entry in enumerate(visit.checklist)
        ]
        if not visit.checklist:
            del self.fields["done"]


class ScheduleChangeForm(forms.Form):
    """The date from which a line's new schedule applies (the schedule itself is a ScheduleForm)."""

    effective_from = BoundedDateField(
        label="New schedule from",
        widget=forms.DateInput(attrs={"type": "date", "class": "form-control"}, format="%Y-%m-%d"),
        error_messages={
            "required": "Enter the first day of the new schedule.",
            "invalid": "Enter a date as YYYY-MM-DD.",
        },
    )

    def __init__(self, *args, today, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_effective_from(self):
        day = self.cleaned_data["effective_from"]
        if day < self.today:
            raise forms.ValidationError(
                "The new schedule must start today or later, not in the past."
            )
        return day
