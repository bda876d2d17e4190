from django import forms
from django.utils.translation import gettext_lazy as _

from kreide.notifications.models import Preferences, QuietHours


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = Preferences
        fields = ["live", "push", "digest"]


class QuietHoursForm(forms.ModelForm):
    class Meta:
        model = QuietHours
        fields = ["starts", "ends", "for_students", "for_everyone"]
        widgets = {
            "starts": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "ends": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }
        help_texts = {
            "ends": _(
                "No pushes in this time; notifications still appear in the list and are "
                "pushed as one summary when it ends. The same time twice: no quiet hours."
            ),
        }
