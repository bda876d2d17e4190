from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kreide.core.widgets import DateInput


class AbsenceForm(forms.Form):
    first_day = forms.DateField(label=_("First day"), widget=DateInput)
    last_day = forms.DateField(label=_("Last day"), widget=DateInput)
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Optional, e.g. when your child will be back. No medical details needed."),
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault(
            "initial", {"first_day": timezone.localdate(), "last_day": timezone.localdate()}
        )
        super().__init__(*args, **kwargs)


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code from the slip"), max_length=40)


class SignUpForm(CodeForm):
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    username = forms.CharField(
        label=_("Username"), max_length=150, help_text=_("You sign in with it.")
    )
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)
    password_again = forms.CharField(label=_("Password again"), widget=forms.PasswordInput)

    def clean(self) -> dict:
        data = super().clean()
        if data.get("password") and data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


class ParentFileForm(forms.Form):
    file = forms.FileField(
        label=_("Parent file (CSV)"),
        help_text=_("Columns: parent_username;first_name;last_name;child_username"),
    )


class LinkForm(forms.Form):
    parent = forms.CharField(label=_("Parent's username"), max_length=150)
    child = forms.CharField(label=_("Child's username"), max_length=150)


class InviteForm(forms.Form):
    group = forms.ModelChoiceField(label=_("Class"), queryset=None)

    def __init__(self, groups, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = groups
