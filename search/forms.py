from django import forms
from django.conf import settings

from search.models import Collection


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that accepts several files from one <input multiple>."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True, "accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_clean = super().clean
        if isinstance(data, (list, tuple)):
            return [single_clean(item, initial) for item in data]
        return [single_clean(data, initial)]


def _check_size(uploaded) -> None:
    limit = settings.ISC["MAX_UPLOAD_BYTES"]
    if uploaded.size > limit:
        raise forms.ValidationError(
            f"{uploaded.name} is {uploaded.size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB."
        )


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


class ReferenceFilesForm(forms.Form):
    files = MultipleFileField(label="Images")


class ReferenceZipForm(forms.Form):
    archive = forms.FileField(label="Zip archive", widget=forms.ClearableFileInput(attrs={"accept": ".zip"}))

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        limit = settings.ISC["MAX_ZIP_UNCOMPRESSED_BYTES"]
        if archive.size > limit:
            raise forms.ValidationError(f"The archive is {archive.size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB.")
        return archive


class ReferenceFolderForm(forms.Form):
    folder = forms.CharField(label="Folder on the server", max_length=1000)


class QueryForm(forms.Form):
    image = forms.FileField(label="Query image", widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))

    def clean_image(self):
        image = self.cleaned_data["image"]
        _check_size(image)
        return image


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("confirmed", "confirmed"), ("rejected", "rejected"), ("unreviewed", "unreviewed")])
