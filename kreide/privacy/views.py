"""Privacy pages: a person's own copy of their data, and the school office's privacy page
(retention rules with the last counts, copies and erasure for one person).

Thin views: objects through the signed-in user's school, every write through services.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kreide.accounts.models import User
from kreide.core.confirm import confirm_page
from kreide.privacy import retention, services
from kreide.privacy.models import AccessExport, RetentionRun
from kreide.schools.access import school_admin_required
from kreide.storage.downloads import content_disposition


def _copies_context(actor: User, subject: User) -> dict:
    copies = services.exports_for(actor, subject)
    for copy in copies:
        copy.expires = services.expires_at(copy)
    pending = any(
        c.state in (AccessExport.State.WAITING, AccessExport.State.RUNNING) for c in copies
    )
    return {"copies": copies, "pending": pending, "subject": subject}


@login_required
@never_cache
def mine(request: HttpRequest) -> HttpResponse:
    if not services.may_request_for(request.user, request.user):
        raise PermissionDenied
    if request.method == "POST":
        services.request_copy(request.user, request.user)
        messages.success(request, _("Your copy is being prepared. This page shows its progress."))
        return redirect("privacy:mine")
    return render(request, "privacy/mine.html", _copies_context(request.user, request.user))


@login_required
@never_cache
def copies(request: HttpRequest, pk: int) -> HttpResponse:
    """The list of copies alone: htmx asks for it again while one is being prepared."""
    subject = get_object_or_404(User.objects.for_school(request.user.school_id), pk=pk)
    return render(request, "privacy/copies.html", _copies_context(request.user, subject))


@login_required
def download(request: HttpRequest, pk: int) -> FileResponse:
    export = get_object_or_404(
        AccessExport.objects.for_school(request.user.school_id).select_related("subject"), pk=pk
    )
    path = services.download(request.user, export)
    response = FileResponse(path.open("rb"), content_type="application/zip")
    name = f"kreide-{export.subject.username}-{export.created_at:%Y-%m-%d}.zip"
    response["Content-Disposition"] = content_disposition(name)
    return response


class PeriodForm(forms.Form):
    kind = forms.ChoiceField(choices=[(r.kind, r.label) for r in retention.RULES])
    days = forms.IntegerField(
        label=gettext_lazy("Days"), min_value=1, max_value=3650, required=False
    )


@school_admin_required
@never_cache
def office(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    form = PeriodForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            services.set_period(
                request.user, school, form.cleaned_data["kind"], form.cleaned_data["days"]
            )
            messages.success(request, _("The retention period was saved."))
            return redirect("privacy:overview")
        messages.error(request, _("Please enter a number of days between 1 and 3650, or none."))
    runs = RetentionRun.objects.for_school(school)
    last = runs.filter(dry_run=False).first()
    last_dry = runs.filter(dry_run=True).first()
    days = retention.periods(school)
    rules = [
        {
            "rule": r,
            "days": days[r.kind],
            "last": last.counts.get(r.kind) if last else None,
            "dry": last_dry.counts.get(r.kind) if last_dry else None,
        }
        for r in retention.RULES
    ]
    return render(
        request,
        "privacy/office.html",
        {"rules": rules, "last": last, "last_dry": last_dry},
    )


@school_admin_required
@require_POST
def office_dry_run(request: HttpRequest) -> HttpResponse:
    retention.run(request.user.school, dry_run=True)
    messages.success(request, _("Counted what the next night would delete; nothing was deleted."))
    return redirect("privacy:overview")


def _person(request: HttpRequest, pk: int) -> User:
    return get_object_or_404(User.objects.for_school(request.user.school), pk=pk)


@school_admin_required
@never_cache
def person(request: HttpRequest, pk: int) -> HttpResponse:
    subject = _person(request, pk)
    if request.method == "POST":
        services.request_copy(request.user, subject)
        messages.success(request, _("The copy is being prepared."))
        return redirect("privacy:person", pk=subject.pk)
    return render(request, "privacy/person.html", _copies_context(request.user, subject))


@school_admin_required
def erase(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what goes, asked once more; POST: erased, irreversibly."""
    subject = _person(request, pk)
    if request.method != "POST":
        preview = services.erasure_preview(request.user, subject)
        affected = [f"{count} × {name}" for name, count in sorted(preview.deleted.items())]
        if preview.mails is not None:
            affected.append(_("%(count)s e-mails and the mailbox") % {"count": preview.mails})
        affected += [
            _("%(count)s × %(name)s: kept, without the name") % {"count": count, "name": name}
            for name, count in sorted(preview.emptied.items())
        ]
        return confirm_page(
            request,
            question=_("Erase %(name)s completely?") % {"name": subject.get_full_name() or subject},
            consequence=_(
                "The account %(username)s and everything listed below are deleted and cannot "
                "be brought back. What others need (feedback, files in class folders) stays "
                "without the name. The audit log keeps only that an account was erased."
            )
            % {"username": subject.username},
            confirm_label=_("Erase irreversibly"),
            cancel_url=reverse("privacy:person", args=[subject.pk]),
            affected=affected,
            fields={"confirmed": "1"},
        )
    if request.POST.get("confirmed") != "1":
        return redirect("privacy:erase", pk=subject.pk)
    services.erase_person(request.user, subject)
    messages.success(request, _("The person was erased."))
    return redirect("accounts:user_list")
