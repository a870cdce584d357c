"""Form pieces shared by the domains: several files in one field, upload size checks, errors as one line."""

from django import forms
from django.conf import settings


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
        # Each file is judged on its own later (search/core/uploads.py files_read): an empty one is listed as
        # rejected by name, and the others are still stored.
        return [
            item if _is_empty_upload(item) else super(MultipleFileField, self).clean(item, initial) for item in items
        ]


def _is_empty_upload(item) -> bool:
    return bool(getattr(item, "name", "")) and getattr(item, "size", None) == 0


def _check_size(uploaded) -> None:
    limit = settings.ISC.max_upload_bytes
    if uploaded.size > limit:
        raise forms.ValidationError(
            f"{uploaded.name} is {uploaded.size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB."
        )


def form_errors(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)
