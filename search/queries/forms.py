"""The query upload form."""

from django import forms

from search.core.forms import _check_size


class QueryForm(forms.Form):
    image = forms.FileField(label="Query image", widget=forms.ClearableFileInput(attrs={"accept": "image/*"}))

    def clean_image(self):
        image = self.cleaned_data["image"]
        _check_size(image)
        return image
