from django import forms
from django.utils.translation import gettext_lazy as _

from kreide.core.widgets import DateInput, TimeInput
from kreide.schools.models import Group


class StartWindowForm(forms.Form):
    day = forms.DateField(label=_("Day"), widget=DateInput())
    starts_at = forms.TimeField(label=_("Starts at"), widget=TimeInput())
    group = forms.ModelChoiceField(
        label=_("Class"),
        queryset=Group.unscoped.none(),
        required=False,
        empty_label=_("— grades instead —"),
    )
    grade_from = forms.IntegerField(
        label=_("From grade"), min_value=1, max_value=13, required=False
    )
    grade_to = forms.IntegerField(label=_("To grade"), min_value=1, max_value=13, required=False)

    def __init__(self, *args, school, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = Group.objects.for_school(school).filter(
            kind=Group.Kind.CLASS, is_active=True
        )

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("group") and (
            data.get("grade_from") is None or data.get("grade_to") is None
        ):
            raise forms.ValidationError(_("Choose a class or a range of grades."))
        return data
