from django import forms

from agreements.forms import CrispyForm

from . import webhooks
from .models import URL_MAX_LENGTH, Event, WebhookEndpoint


class WebhookEndpointForm(CrispyForm, forms.ModelForm):
    """An endpoint's URL (the rules of `webhooks.check_url`), description, events and switch.
    ``request_host``: the host the page was asked for, which counts as Allora itself."""

    url = forms.URLField(
        label="URL",
        max_length=URL_MAX_LENGTH,
        assume_scheme="https",
        help_text="Where Allora POSTs the events, e.g. https://example.com/hooks/allora.",
    )
    events = forms.MultipleChoiceField(
        choices=Event.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event."},
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active"]

    def __init__(self, *args, request_host="", **kwargs):
        super().__init__(*args, **kwargs)
        self.request_host = request_host

    def clean_url(self):
        return webhooks.check_url(self.cleaned_data["url"], request_host=self.request_host)

    def clean_description(self):
        return self.cleaned_data["description"].strip()

    def clean_events(self):
        chosen = set(self.cleaned_data["events"])
        return [name for name in Event.values if name in chosen]  # in the list's order
