from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kreide.accounts.models import User
from kreide.core.widgets import DateTimeInput
from kreide.schools import access
from kreide.schools.models import Group
from kreide.tasks.models import Submission, Task


class PickerGroup(str):
    """A class's name as the picker's group heading, with the class's id beside it."""

    pk: int

    def __new__(cls, pk: int, name: str) -> PickerGroup:
        group = super().__new__(cls, name)
        group.pk = pk
        return group


class StudentPicker(forms.CheckboxSelectMultiple):
    """Students grouped by class, with a search and chips (tasks/js/student_picker.js)
    instead of one long list to Ctrl-click in."""

    template_name = "tasks/widgets/student_picker.html"


class TaskForm(forms.ModelForm):
    groups = forms.ModelMultipleChoiceField(
        queryset=Group.unscoped.none(),
        widget=forms.CheckboxSelectMultiple,
        label=_("Classes and groups"),
    )
    students = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        widget=StudentPicker,
        required=False,
        label=_("Only these students (optional)"),
        help_text=_("Leave empty to assign the task to everyone in the chosen groups."),
    )

    class Meta:
        model = Task
        fields = [
            "title",
            "description",
            "groups",
            "students",
            "starts_at",
            "due_at",
            "accept_late",
            "expects",
            "max_file_mb",
        ]
        widgets = {
            "starts_at": DateTimeInput(),
            "due_at": DateTimeInput(),
            "description": forms.Textarea(attrs={"rows": 8}),
        }

    def __init__(self, *args, teacher: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        groups = access.taught_groups(teacher).order_by("grade", "name")
        self.fields["groups"].queryset = groups
        self.fields["students"].queryset = (
            User.objects.for_school(teacher.school_id)
            .filter(pk__in=access.member_ids(teacher.school_id, groups), is_active=True)
            .order_by("last_name", "first_name")
        )
        self.fields["students"].widget.choices = self._students_by_group(teacher, groups)
        self.fields["max_file_mb"].widget.attrs.update(min=1, max=200)

    def _students_by_group(self, teacher: User, groups) -> list:
        """The students as choices grouped by class (three queries)."""
        names = {
            student.pk: f"{student.last_name}, {student.first_name}"
            for student in self.fields["students"].queryset
        }
        groups = list(groups)
        members = access.members_by_group(teacher.school_id, [group.pk for group in groups])
        choices = []
        for group in groups:
            ids = sorted(
                (pk for pk in members.get(group.pk, ()) if pk in names), key=names.__getitem__
            )
            if ids:
                choices.append((PickerGroup(group.pk, group.name), [(pk, names[pk]) for pk in ids]))
        return choices

    def clean_max_file_mb(self) -> int:
        value = self.cleaned_data["max_file_mb"]
        if not 1 <= value <= 200:
            raise forms.ValidationError(_("Choose between 1 and 200 MB."))
        return value

    def clean(self):
        cleaned = super().clean()
        starts, due = cleaned.get("starts_at"), cleaned.get("due_at")
        if starts and due and due <= starts:
            self.add_error("due_at", _("The due date must be after the start."))
        groups, students = cleaned.get("groups"), cleaned.get("students")
        if groups and students:
            member_ids = {row["user_id"] for row in access.member_ids(groups[0].school_id, groups)}
            if any(student.pk not in member_ids for student in students):
                self.add_error("students", _("Selected students must belong to the chosen groups."))
        return cleaned


class TextForm(forms.Form):
    text = forms.CharField(
        label=_("Your answer"),
        required=False,
        max_length=50_000,
        widget=forms.Textarea(attrs={"rows": 8}),
    )


class ReviewForm(forms.ModelForm):
    return_for_revision = forms.BooleanField(
        label=_("Return for revision"),
        required=False,
        help_text=_("The student can change the submission and hand it in again."),
    )

    class Meta:
        model = Submission
        fields = ["feedback", "points", "grade"]
        widgets = {"feedback": forms.Textarea(attrs={"rows": 6})}


class CopyForm(forms.Form):
    groups = forms.ModelMultipleChoiceField(
        queryset=Group.unscoped.none(),
        widget=forms.CheckboxSelectMultiple,
        label=_("Copy to"),
    )

    def __init__(self, *args, teacher: User, task: Task, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from kreide.tasks.services import copy_targets

        self.fields["groups"].queryset = copy_targets(teacher, task)
