from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory

from agreements.forms import CrispyForm

from .models import RateCard, RateCardLine, RateKind

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

    class Meta:
        model = RateCardLine
        fields = ["kind", "name", "unit", "price", "position"]
        widgets = {"position": forms.HiddenInput()}

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
    effective_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Agreements drafted on or after this date use these rates. "
        "Running terms keep their locked rates.",
    )
