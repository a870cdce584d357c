"""The bank page's exchange form: one form for every exchange, the fields of the chosen one used."""

from __future__ import annotations

from typing import Any

from django import forms

from search.exchanges.models import KIND_LABELS

NCMEC_ENVIRONMENTS = [
    "Industry",
    "Industry_Exploitative",
    "NGO",
    "Exploitative",
    "NGO_Generative_AI",
    "test_Industry",
    "test_NGO",
]


class ExchangeForm(forms.Form):
    kind = forms.ChoiceField(choices=[(kind.value, label) for kind, label in KIND_LABELS.items()], label="Exchange")
    enabled = forms.BooleanField(required=False, initial=True)
    interval_minutes = forms.IntegerField(min_value=1, max_value=10080, initial=60, label="Fetch every (minutes)")
    privacy_group = forms.IntegerField(required=False, min_value=1, help_text="ThreatExchange: privacy group id.")
    environment = forms.ChoiceField(
        required=False, choices=[(name, name) for name in NCMEC_ENVIRONMENTS], help_text="NCMEC database."
    )
    only_esp_ids = forms.CharField(required=False, help_text="NCMEC: only these member ids (comma-separated).")
    filename = forms.CharField(required=False, help_text="Signal file: a path under the team's import folder.")
    file_signal_type = forms.ChoiceField(
        required=False,
        choices=[("", "typed lines (pdq <hex>)"), ("pdq", "bare PDQ"), ("video_md5", "bare MD5")],
        label="Signal file lines",
    )
    # Credentials: blank keeps the stored ones. Never shown back.
    api_token = forms.CharField(required=False, widget=forms.PasswordInput, help_text="ThreatExchange app token.")
    user = forms.CharField(required=False, label="Username", help_text="NCMEC or TCAP user name.")
    password = forms.CharField(required=False, widget=forms.PasswordInput, help_text="NCMEC or TCAP password.")
    fetch_function_key = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="StopNCII FetchHashes key."
    )
    subscription_key = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="StopNCII subscription key."
    )

    def clean_only_esp_ids(self) -> list[int]:
        text = self.cleaned_data.get("only_esp_ids") or ""
        try:
            return [int(part) for part in text.replace(" ", "").split(",") if part]
        except ValueError:
            raise forms.ValidationError("member ids are numbers, separated by commas") from None

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind = data["kind"]
        config: dict[str, Any] = {}
        credentials: dict[str, str] = {}
        if kind == "fb_threatexchange":
            config = {"privacy_group": data.get("privacy_group")}
            credentials = {"api_token": data.get("api_token", "")}
        elif kind == "ncmec":
            config = {"environment": data.get("environment") or "Industry", "only_esp_ids": data.get("only_esp_ids")}
            credentials = {"user": data.get("user", ""), "password": data.get("password", "")}
        elif kind == "stop_ncii":
            credentials = {
                "fetch_function_key": data.get("fetch_function_key", ""),
                "subscription_key": data.get("subscription_key", ""),
            }
        elif kind == "tat":
            credentials = {"username": data.get("user", ""), "password": data.get("password", "")}
        elif kind == "local_file":
            config = {"filename": data.get("filename", ""), "signal_type": data.get("file_signal_type", "")}
        return {
            "kind": kind,
            "config": config,
            "credentials": credentials,
            "enabled": data.get("enabled", False),
            "interval_minutes": data["interval_minutes"],
        }
