from django import forms
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kreide.accounts.models import User
from kreide.schools.models import Group, School, Subject


class GroupFilterForm(forms.Form):
    q = forms.CharField(
        label=pgettext_lazy("search field", "Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    kind = forms.ChoiceField(
        label=_("Kind"), required=False, choices=[("", _("All kinds")), *Group.Kind.choices]
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Active")), ("inactive", _("Deactivated")), ("all", _("All"))],
    )


class GroupForm(forms.ModelForm):
    class Meta:
        model = Group
        fields = ["name", "kind", "grade", "subject"]

    def __init__(self, school, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.school = school
        self.fields["subject"].queryset = Subject.objects.for_school(school)
        self.fields["grade"].widget.attrs.update(min=1, max=13)
        self.fields["subject"].help_text = _("For courses: the subject taught.")

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Group.objects.for_school(self.school).filter(name__iexact=name)
        if clash.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("A class or group with this name already exists."))
        return name

    def _post_clean(self) -> None:
        # The service validates and saves; the form only checks its own fields.
        pass


class AddMembersForm(forms.Form):
    usernames = forms.CharField(
        label=_("Add people"),
        widget=forms.Textarea(attrs={"rows": 3, "autocapitalize": "none"}),
        help_text=_(
            "Usernames, one per line or separated by commas. Teachers are added as "
            "teachers of the group."
        ),
    )

    def __init__(self, school, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.school = school

    def clean_usernames(self) -> list[User]:
        names = {
            n.strip().lower()
            for n in self.cleaned_data["usernames"].replace(",", "\n").splitlines()
            if n.strip()
        }
        if len(names) > 500:
            raise forms.ValidationError(_("At most 500 usernames at once."))
        users = list(
            User.objects.for_school(self.school)
            .filter(is_active=True)
            .annotate(key=Lower("username"))
            .filter(key__in=names)
        )
        unknown = names - {u.username.lower() for u in users}
        if unknown:
            raise forms.ValidationError(
                _("No active account of this school: %(names)s")
                % {"names": ", ".join(sorted(unknown))}
            )
        return users


class SchoolSettingsForm(forms.ModelForm):
    class Meta:
        model = School
        fields = [
            "student_direct_messages",
            "public_links_allowed",
            "parents_see_task_contents",
            "parents_message_teachers",
        ]
        help_texts = {
            "parents_message_teachers": _(
                "Off: parents write to the school office only; they still answer in a "
                "conversation a teacher started."
            ),
            "parents_see_task_contents": _(
                "Off: parents see each task's title, due date and hand-in state only. On: "
                "also the task's text."
            ),
        }
