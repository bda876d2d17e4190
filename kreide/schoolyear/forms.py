from django import forms
from django.utils.translation import gettext_lazy as _

from kreide.schoolyear.models import ClassException


class YearForm(forms.Form):
    label = forms.RegexField(
        label=_("School year"), regex=r"^\d{4}/\d{2}$", max_length=9, help_text=_("e.g. 2025/26")
    )
    starts_on = forms.DateField(
        label=_("First day"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(label=_("Last day"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] <= data["starts_on"]:
            self.add_error("ends_on", _("The last day must come after the first."))
        return data


class RuleForm(forms.Form):
    final_grade = forms.IntegerField(
        label=_("Final grade"),
        min_value=1,
        max_value=13,
        help_text=_("Students of this grade graduate: their accounts are deactivated."),
    )
    teachers_follow = forms.BooleanField(
        label=_("Teachers move up with their class"), required=False
    )


class ExceptionForm(forms.Form):
    action = forms.ChoiceField(
        label=_("At the rollover"),
        required=False,
        choices=[("", _("follows the rule"))] + list(ClassException.Action.choices),
    )
    target = forms.CharField(label=_("New class"), max_length=100, required=False)

    def clean(self):
        data = super().clean()
        if data.get("action") == ClassException.Action.MOVE and not data.get("target", "").strip():
            self.add_error("target", _("Name the class it becomes."))
        return data


class SyncForm(forms.Form):
    file = forms.FileField(
        label=_("Export file"),
        help_text=_(
            "Kreide CSV, SchILD-NRW's text export or ASV's export.xml (see the documentation)."
        ),
    )
