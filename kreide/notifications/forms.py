from django import forms
from django.utils.translation import gettext_lazy as _

from kreide.notifications.models import (
    EVERYTHING,
    LIST_ONLY,
    OFF,
    Preferences,
    QuietHours,
    Source,
)

LEVELS = [
    (EVERYTHING, _("in the list, by push and e-mail")),
    (LIST_ONLY, _("only in the list")),
    (OFF, _("not at all")),
]


class PreferencesForm(forms.ModelForm):
    """The channels, then one choice per source (left out: as before)."""

    class Meta:
        model = Preferences
        fields = ["live", "push", "digest"]

    def __init__(self, *args, parent: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for source in Source:
            self.fields[f"source_{source.value}"] = forms.ChoiceField(
                label=source.label,
                choices=LEVELS,
                required=False,
                initial=self.instance.level(source),
            )
        if parent:
            self.fields[f"source_{Source.NEWS.value}"].help_text = _(
                "Parent letters that ask for your confirmation always reach you, by push "
                "and e-mail too: the school needs your answer and reminds you until it has it."
            )

    def channel_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.Meta.fields]

    def source_fields(self) -> list[forms.BoundField]:
        return [self[f"source_{source.value}"] for source in Source]

    def settings(self) -> dict:
        """The cleaned choices as `save_preferences` takes them."""
        data = self.cleaned_data
        levels = {
            source: data[f"source_{source.value}"] or self.instance.level(source)
            for source in Source
        }
        return {
            "live": data["live"],
            "push": data["push"],
            "digest": data["digest"],
            "levels": levels,
        }


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
