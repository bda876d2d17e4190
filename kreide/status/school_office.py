"""The school office's disruption notices: a banner on every page of the school's people
("Heating failed: lessons end at 11:30"), open until the school admin resolves it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kreide.core.confirm import confirm_page
from kreide.schools.access import school_admin_required
from kreide.status import services
from kreide.status.models import Incident


class IncidentForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("What is happening"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    level = forms.ChoiceField(
        label=gettext_lazy("Kind"), choices=Incident.Level.choices, initial=Incident.Level.WARNING
    )


@school_admin_required
def incidents(request: HttpRequest) -> HttpResponse:
    form = IncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.open_school_incident(request.user, **form.cleaned_data)
        messages.success(request, _("The notice is shown on every page until you resolve it."))
        return redirect("accounts:incidents")
    notes = services.school_incidents(request.user.school)
    return render(
        request,
        "status/school_office.html",
        {
            "form": form,
            "open_notes": notes.filter(ended_at__isnull=True),
            "closed_notes": notes.filter(ended_at__isnull=False).order_by("-ended_at")[:10],
        },
    )


@school_admin_required
def incident_close(request: HttpRequest, pk: int) -> HttpResponse:
    note = services.school_incidents(request.user.school).filter(pk=pk).first()
    if note is None or note.ended_at is not None:
        messages.info(request, _("This notice is already resolved."))
        return redirect("accounts:incidents")
    if request.method != "POST":
        return confirm_page(
            request,
            question=_("Resolve this notice?"),
            consequence=_("“%(text)s” will no longer be shown to anyone at the school.")
            % {"text": note.text},
            confirm_label=_("Resolve"),
            cancel_url=reverse("accounts:incidents"),
        )
    services.close_school_incident(request.user, note.pk)
    messages.success(request, _("The notice is resolved."))
    return redirect("accounts:incidents")
