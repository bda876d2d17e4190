"""Date and time inputs for the browser's own pickers.

An `<input type="date">` (and time, datetime-local) only accepts its value in ISO form,
whatever the page's language; Django would localize it ("06.12.2026" in German) and the
browser would show an empty field. These widgets always render ISO; Django's date and time
fields accept ISO input in every language.
"""

from __future__ import annotations

from django import forms


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class TimeInput(forms.TimeInput):
    input_type = "time"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs, format="%H:%M")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")
