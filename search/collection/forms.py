"""Forms of the collection pages."""

from django import forms
from django.conf import settings

from search.collection.models import Collection
from search.core.forms import MultipleFileField
from search.teams.models import Team


class CollectionForm(forms.ModelForm):
    class Meta:
        model = Collection
        fields = ["name", "description", "match_threshold"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        help_texts = {"match_threshold": "A match whose final score reaches this value counts as a copy (0–1)."}

    def clean_match_threshold(self):
        value = self.cleaned_data["match_threshold"]
        if not 0.0 <= value <= 1.0:
            raise forms.ValidationError("The threshold is a score between 0 and 1.")
        return value


class CollectionCreateForm(CollectionForm):
    """A new collection, in one of the teams the user administers."""

    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)

    class Meta(CollectionForm.Meta):
        fields = ["team", "name", "description", "match_threshold"]

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams.order_by("name")


class ReferenceFilesForm(forms.Form):
    files = MultipleFileField(label="Images")


class ReferenceZipForm(forms.Form):
    archive = forms.FileField(label="Zip archive", widget=forms.ClearableFileInput(attrs={"accept": ".zip"}))

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        limit = settings.ISC.max_zip_uncompressed_bytes
        if archive.size > limit:
            raise forms.ValidationError(
                f"The archive is {archive.size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB."
            )
        return archive


class ReferenceFolderForm(forms.Form):
    folder = forms.CharField(label="Folder on the server", max_length=1000)
