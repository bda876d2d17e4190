from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kreide.accounts.models import User
from kreide.schools.access import is_admin_of
from kreide.timetable.calendars import writable_groups
from kreide.timetable.models import Event

LESSON = timedelta(minutes=45)  # an event with a start and no end lasts a lesson

STATES = [
    ("BW", "Baden-Württemberg"), ("BY", "Bayern"), ("BE", "Berlin"), ("BB", "Brandenburg"),
    ("HB", "Bremen"), ("HH", "Hamburg"), ("HE", "Hessen"), ("MV", "Mecklenburg-Vorpommern"),
    ("NI", "Niedersachsen"), ("NW", "Nordrhein-Westfalen"), ("RP", "Rheinland-Pfalz"),
    ("SL", "Saarland"), ("SN", "Sachsen"), ("ST", "Sachsen-Anhalt"),
    ("SH", "Schleswig-Holstein"), ("TH", "Thüringen"),
]  # fmt: skip


class EventForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}))
    starts = forms.TimeField(
        label=_("From"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    ends = forms.TimeField(
        label=_("Until"), required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    audience = forms.ChoiceField(label=_("For"))
    group = forms.ModelChoiceField(
        label=_("Class or group"), queryset=None, required=False, empty_label="—"
    )
    is_test = forms.BooleanField(label=_("Class test"), required=False)
    location = forms.CharField(label=_("Place"), max_length=200, required=False)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    confirm = forms.BooleanField(label=_("Enter it anyway"), required=False)

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        groups = writable_groups(user)
        choices = [(Event.Audience.PERSONAL, _("only me"))]
        if groups:
            choices.append((Event.Audience.GROUP, _("a class or group")))
        else:
            del self.fields["group"], self.fields["is_test"]
        if is_admin_of(user, user.school_id):
            choices.append((Event.Audience.SCHOOL, _("the whole school")))
        self.fields["audience"].choices = choices
        if groups:
            self.fields["group"].queryset = groups

    def clean(self) -> dict:
        data = super().clean()
        if data.get("audience") == Event.Audience.GROUP and not data.get("group"):
            self.add_error("group", _("Choose the class or group."))
        if data.get("is_test") and data.get("audience") != Event.Audience.GROUP:
            self.add_error("is_test", _("A class test is for a class or group."))
        if data.get("ends") and not data.get("starts"):
            self.add_error("starts", _("Give the start time too, or neither for all day."))
        elif data.get("starts") and not data.get("ends") and data.get("day"):
            data["ends"] = (datetime.combine(data["day"], data["starts"]) + LESSON).time()
        if data.get("starts") and data.get("ends") and data["ends"] < data["starts"]:
            self.add_error("ends", _("The end must not be before the start."))
        return data

    def times(self) -> tuple[datetime, datetime, bool]:
        """(starts_at, ends_at, all_day) in the school's time zone."""
        data = self.cleaned_data
        day = data["day"]
        if data.get("starts"):
            start = timezone.make_aware(datetime.combine(day, data["starts"]))
            return start, timezone.make_aware(datetime.combine(day, data["ends"])), False
        start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
        return start, start + timedelta(days=1), True


class CalendarSettingsForm(forms.Form):
    tests_per_day = forms.IntegerField(
        label=_("Class tests per day at most"), min_value=1, max_value=5
    )
    tests_per_week = forms.IntegerField(
        label=_("Class tests per week at most"), min_value=1, max_value=10
    )
    state = forms.ChoiceField(label=_("Federal state (public holidays)"), choices=STATES)


class HolidayFileForm(forms.Form):
    file = forms.FileField(
        label=_("School holidays (ICS file of your state)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".ics,text/calendar"}),
    )
