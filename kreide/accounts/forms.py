from django import forms
from django.contrib.auth import password_validation
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from kreide.accounts.models import User
from kreide.schools.models import Group


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username or e-mail"),
        max_length=254,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autofocus": True, "autocapitalize": "none"}
        ),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        max_length=1024,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    remember = forms.BooleanField(
        label=_("Stay signed in on this device (30 days)"), required=False, initial=True
    )


class NewPasswordForm(forms.Form):
    """Set a new password; the current one is asked unless the account must change it."""

    current_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not only digits, not a common password."),
    )
    new_password2 = forms.CharField(
        label=_("Repeat the new password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_current_password(self):
        value = self.cleaned_data["current_password"]
        if not self.user.check_password(value):
            raise forms.ValidationError(_("Your current password is not correct."))
        return value

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", _("The two passwords do not match."))
        elif first:
            if first == cleaned.get("current_password"):
                self.add_error("new_password1", _("Choose a password you have not used here."))
            else:
                try:
                    password_validation.validate_password(first, self.user)
                except forms.ValidationError as error:
                    self.add_error("new_password1", error)
        return cleaned


class UserFilterForm(forms.Form):
    q = forms.CharField(
        label=pgettext_lazy("search field", "Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("Name or username")}),
    )
    role = forms.ChoiceField(
        label=_("Role"), required=False, choices=[("", _("All roles")), *User.Role.choices]
    )
    group = forms.ModelChoiceField(
        label=_("Class or group"),
        required=False,
        queryset=None,
        empty_label=_("All classes and groups"),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Active")), ("inactive", _("Deactivated")), ("all", _("All"))],
    )

    def __init__(self, school, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = Group.objects.for_school(school)


class UserForm(forms.ModelForm):
    groups = forms.ModelMultipleChoiceField(
        label=_("Classes and groups"),
        required=False,
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Teachers teach the groups they are in; everyone else is a member."),
    )

    class Meta:
        model = User
        fields = ["first_name", "last_name", "username", "email", "role"]

    def __init__(self, school, *args, editor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.school = school
        self.current_groups: list[Group] = []
        for name in ("first_name", "last_name"):
            self.fields[name].required = True
        self.fields["username"].help_text = _("Letters, digits and . - _ @ + only.")
        # Deactivated groups the user is still in stay listed, so saving keeps them; the
        # archives of past school years are no choice (the service keeps them).
        self.fields["groups"].queryset = (
            Group.objects.for_school(school)
            .filter(Q(is_active=True) | Q(memberships__user=self.instance.pk or 0))
            .filter(archived_year="")
            .distinct()
        )
        if editor is not None and editor.pk == self.instance.pk:
            self.fields["role"].disabled = True  # the service refuses it anyway
        if self.instance.pk:
            # Named above the list too: in a school's 50 classes the ticked one scrolls away.
            self.current_groups = list(
                Group.objects.for_school(school)
                .filter(memberships__user=self.instance, archived_year="")
                .order_by("kind", "grade", "name")
            )
            self.initial["groups"] = self.current_groups

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        taken = User.objects.filter(username__iexact=username).exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(_("This username is already taken."))
        return username

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if email and User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(_("This e-mail address belongs to another account."))
        return email

    def _post_clean(self) -> None:
        # The service validates and saves; the form only checks its own fields.
        pass


class ImportForm(forms.Form):
    MAX_BYTES = 2 * 1024 * 1024
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "Columns: username, first_name, last_name, role, classes (separated by ;), "
            "optionally password, email and external_id (the ID at the school's sign-in "
            "provider). UTF-8, separated by ; or ,."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than 2 MB."))
        return upload


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False)

    def __init__(self, actions: list[tuple[str, str]], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", _("All actions")), *actions]


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=16,
        strip=True,
        help_text=_("The 6-digit code from your authenticator app, or a backup code."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "autocapitalize": "none",
            }
        ),
    )


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        value = self.cleaned_data["password"]
        if not self.user.check_password(value):
            raise forms.ValidationError(_("Your password is not correct."))
        return value
