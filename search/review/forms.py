"""The verdict form of the result page."""

from django import forms


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("confirmed", "confirmed"), ("rejected", "rejected"), ("unreviewed", "unreviewed")]
    )
