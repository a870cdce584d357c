from django import forms
from django.conf import settings

from search import evaluation, selectors
from search.models import AuditAction, Collection, Role, Team


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """A file field that accepts several files from one <input multiple>."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True, "accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = [item for item in (data if isinstance(data, (list, tuple)) else [data]) if item]
        if not items:
            return [super().clean(None, initial)]  # raises "This field is required."
        # Each file is judged on its own later (search/uploads.py files_read): an empty one is listed as
        # rejected by name, and the others are still stored.
        return [
            item if _is_empty_upload(item) else super(MultipleFileField, self).clean(item, initial) for item in items
        ]


def _is_empty_upload(item) -> bool:
    return bool(getattr(item, "name", "")) and getattr(item, "size", None) == 0


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


class CollectionCreateForm(CollectionForm):
    """A new collection, in one of the teams the user administers."""

    team = forms.ModelChoiceField(queryset=Team.objects.none(), empty_label=None)

    class Meta(CollectionForm.Meta):
        fields = ["team", "name", "description", "match_threshold"]

    def __init__(self, *args, teams, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams.order_by("name")


class MemberCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, help_text="Tell them; they can change it after logging in.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(choices=[("", "any action"), *AuditAction.choices], required=False)
    actor = forms.TypedChoiceField(coerce=int, required=False, label="User")
    collection = forms.TypedChoiceField(coerce=int, required=False)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def __init__(self, *args, actors, collections, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].choices = [("", "anyone"), *actors]
        self.fields["collection"].choices = [("", "any collection"), *collections]


class ReferenceFilesForm(forms.Form):
    files = MultipleFileField(label="Images")


class ReferenceZipForm(forms.Form):
    archive = forms.FileField(label="Zip archive", widget=forms.ClearableFileInput(attrs={"accept": ".zip"}))

    def clean_archive(self):
        archive = self.cleaned_data["archive"]
        limit = settings.ISC["MAX_ZIP_UNCOMPRESSED_BYTES"]
        if archive.size > limit:
            raise forms.ValidationError(
                f"The archive is {archive.size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB."
            )
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
    decision = forms.ChoiceField(
        choices=[("confirmed", "confirmed"), ("rejected", "rejected"), ("unreviewed", "unreviewed")]
    )


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
        self.fields["collection"].queryset = selectors.collection_choices(user=user)

    def clean_ground_truth(self):
        return _csv_parse(self.cleaned_data["ground_truth"], evaluation.ground_truth_parse)

    def clean_edits(self):
        uploaded = self.cleaned_data["edits"]
        return None if not uploaded else _csv_parse(uploaded, evaluation.edits_parse)


def _csv_parse(uploaded, parse):
    _check_size(uploaded)
    try:
        return parse(data=uploaded.read(), name=uploaded.name)
    except ValueError as error:
        raise forms.ValidationError(str(error)) from None


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the key is for, e.g. the system that will use it.", initial="API token"
    )
