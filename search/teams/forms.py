"""Forms of the team pages."""

from django import forms

from search.core.models import AuditAction
from search.teams.models import Role


class MemberCreateForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, help_text="Tell them; they can change it after logging in.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    admin = forms.CharField(
        max_length=150,
        required=False,
        label="First admin",
        help_text="Username of an existing account; leave empty to be its first admin yourself.",
    )


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


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the key is for, e.g. the system that will use it.", initial="API token"
    )
