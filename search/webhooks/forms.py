"""The webhook endpoint form."""

from django import forms

from search.webhooks.destinations import WebhookUrlRefused, url_check
from search.webhooks.models import SUBSCRIBABLE_EVENTS


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        max_length=1000,
        assume_scheme="https",
        label="URL",
        help_text="http:// or https://; link-local, metadata and (unless allowed) private addresses are refused.",
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=[(e.value, f"{e.value} — {e.label}") for e in SUBSCRIBABLE_EVENTS],
        widget=forms.CheckboxSelectMultiple,
        help_text="The test event is sent by the button on the endpoint's page, whatever is chosen here.",
    )

    def clean_url(self):
        url = self.cleaned_data["url"]
        try:
            url_check(url, resolve=True)
        except WebhookUrlRefused as error:
            raise forms.ValidationError(str(error)) from error
        return url
