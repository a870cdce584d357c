"""The evaluation form."""

from django import forms
from django.conf import settings

from search.collection import selectors as collection_selectors
from search.collection.models import Collection
from search.evaluation import selectors


class EvaluationForm(forms.Form):
    """A collection of the user's and DISC21 files to score it against; the files are parsed here, so
    a malformed CSV comes back as a form error naming the line."""

    collection = forms.ModelChoiceField(queryset=Collection.objects.none(), empty_label=None)
    ground_truth = forms.FileField(
        label="Ground truth",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="DISC21 CSV: query_id,reference_id (empty reference for a query with no copy); ids are file stems.",
    )
    edits = forms.FileField(
        label="Edits (optional)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text="edits.csv from make_benchmark: query_id,families,difficulty,… for the breakdown.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["collection"].queryset = collection_selectors.collection_choices(user=user)

    def clean_ground_truth(self):
        return _file_read(self.cleaned_data["ground_truth"], selectors.ground_truth_parse)

    def clean_edits(self):
        uploaded = self.cleaned_data["edits"]
        return None if not uploaded else _file_read(uploaded, selectors.edits_parse)


def _file_read(uploaded, parse):
    try:
        return selectors.evaluation_file_read(uploaded, parse=parse, max_bytes=settings.ISC.max_upload_bytes)
    except selectors.EvaluationFileRefused as error:
        raise forms.ValidationError(str(error)) from None
