from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kreide.accounts.models import User
from kreide.core.widgets import DateTimeInput
from kreide.news import services
from kreide.news.models import News
from kreide.schools import access
from kreide.schools.models import Group


class NewsForm(forms.ModelForm):
    groups = forms.ModelMultipleChoiceField(
        queryset=Group.unscoped.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label=_("Classes and groups"),
        help_text=_("For news to classes and groups, or to their parents."),
    )

    class Meta:
        model = News
        fields = [
            "title",
            "body",
            "audience",
            "groups",
            "published_at",
            "expires_at",
            "pinned",
            "needs_confirmation",
            "reply_choices",
        ]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 8}),
            "published_at": DateTimeInput(),
            "expires_at": DateTimeInput(),
            "reply_choices": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "published_at": _("Leave empty to publish now; a later time publishes it then."),
            "expires_at": _("Optional: the news disappears after this time."),
            "needs_confirmation": _(
                "A parent letter: the parents of each child confirm that they have read it."
            ),
            "reply_choices": _(
                "Optional, one answer per line (e.g. “Yes, my child takes part” and “No”): "
                "parents choose one when they confirm."
            ),
        }

    def __init__(self, *args, author: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["published_at"].required = False
        allowed = services.audiences_for(author)
        self.fields["audience"].choices = [
            (value, label) for value, label in News.Audience.choices if value in allowed
        ]
        self.fields["groups"].queryset = access.groups_for_teaching(author).order_by(
            "grade", "name"
        )

    def _post_clean(self) -> None:
        # The service applies the draft and validates the model; the instance stays as it
        # is stored until then (an edit compares with it).
        pass

    def clean(self) -> dict:
        data = super().clean()
        if data.get("audience") in (News.Audience.GROUPS, News.Audience.PARENTS) and not data.get(
            "groups"
        ):
            self.add_error("groups", _("Choose at least one class or group."))
        if data.get("needs_confirmation") and data.get("audience") != News.Audience.PARENTS:
            self.add_error(
                "needs_confirmation", _("Only letters to parents can ask for a confirmation.")
            )
        return data

    def draft(self) -> services.Draft:
        data = self.cleaned_data
        return services.Draft(
            title=data["title"],
            body=data.get("body", ""),
            audience=data["audience"],
            groups=list(data.get("groups") or []),
            published_at=data.get("published_at"),
            expires_at=data.get("expires_at"),
            pinned=data.get("pinned", False),
            needs_confirmation=data.get("needs_confirmation", False),
            reply_choices=data.get("reply_choices", ""),
        )


class ConfirmForm(forms.Form):
    child = forms.IntegerField(widget=forms.HiddenInput)
    choice = forms.CharField(required=False, max_length=200)
