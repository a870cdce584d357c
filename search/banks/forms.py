"""Forms of the bank pages."""

from django import forms

from copydetect.hashlists import HashListFormat, SignalType
from search.banks.models import PDQ_DEFAULT_THRESHOLD, PDQ_MAX_THRESHOLD, BankImport


class BankForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    pdq_threshold = forms.IntegerField(
        min_value=0,
        max_value=PDQ_MAX_THRESHOLD,
        initial=PDQ_DEFAULT_THRESHOLD,
        label="PDQ threshold",
        help_text="Largest Hamming distance (of 256 bits) that counts as a match; 31 is HMA's default.",
    )
    enabled = forms.BooleanField(required=False, initial=True, help_text="Queries are looked up in enabled banks only.")


class BankImportForm(forms.Form):
    file = forms.FileField(label="Hash list")
    format = forms.ChoiceField(choices=[("", "Guess from the first line"), *BankImport.Format.choices], required=False)
    skip_bad_lines = forms.BooleanField(
        required=False, help_text="Insert the good lines even if some are bad (all bad lines are listed either way)."
    )
    source_label = forms.CharField(max_length=300, required=False, label="Source", help_text="e.g. the partner's name")


class HashListExportForm(forms.Form):
    format = forms.ChoiceField(choices=[(f.value, f.value) for f in HashListFormat], initial=HashListFormat.CSV.value)
    signals = forms.MultipleChoiceField(
        choices=[(s.value, s.value) for s in SignalType], initial=[SignalType.PDQ.value, SignalType.MD5.value]
    )
