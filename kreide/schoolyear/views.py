"""The school office's school year (settings, rollover with dry run, sync with the school
administration software) and everyone's archive of past years."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from kreide.accounts import credentials, importing
from kreide.accounts.models import User
from kreide.core.admission import heavy
from kreide.schools import access
from kreide.schools.access import school_admin_required
from kreide.schools.models import Group, Membership
from kreide.schoolyear import archive, services, sis
from kreide.schoolyear.forms import ExceptionForm, RuleForm, SyncForm, YearForm
from kreide.schoolyear.models import ClassException, Leaver
from kreide.storage.downloads import blob_response

PREVIEW_SECONDS = 15 * 60
REASONS = {
    "promote": "moves up",
    "exception": "exception",
    "graduates": "graduates",
    "leaves": "class leaves",
    "leaver": "leaver",
}


def describe_plan(plan: services.Plan) -> list[str]:
    """The plan as plain lines (the command line's output)."""
    lines = [f"School year {plan.year_from} -> {plan.year_to}"]
    for move in plan.moves:
        target = move.target or "(leaves the school)"
        lines.append(
            f"{move.name} -> {target} [{REASONS[move.reason]}]: {len(move.students)} students, "
            f"{len(move.teachers)} teachers follow, {len(move.leaving)} deactivated; "
            f"archived as {move.archived_as}: {move.tasks} tasks, {move.submissions} "
            f"submissions, {move.messages} messages, {move.files} files"
        )
    for name in plan.kept:
        lines.append(f"{name}: no grade, unchanged")
    lines.append("New classes: " + (", ".join(name for name, _grade in plan.new_classes) or "-"))
    for user_id, reason in plan.deactivated:
        lines.append(f"deactivated: {plan.names.get(user_id, user_id)} ({REASONS[reason]})")
    if plan.deactivated:
        lines.append(
            "Deactivated accounts keep a read-only sign-in (their archive, a copy of their "
            "data, their password) until the retention rules erase them."
        )
    return lines


# ------------------------------------------------------------------------- the office


@school_admin_required
def office(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    year = services.current_year(school)
    rule = services.rule_for(school)
    year_form = YearForm(
        request.POST if request.POST.get("form") == "year" else None,
        initial={"label": year.label, "starts_on": year.starts_on, "ends_on": year.ends_on}
        if year
        else None,
        prefix="year",
    )
    rule_form = RuleForm(
        request.POST if request.POST.get("form") == "rule" else None,
        initial={"final_grade": rule.final_grade, "teachers_follow": rule.teachers_follow},
        prefix="rule",
    )
    if request.method == "POST":
        if request.POST.get("form") == "year" and year_form.is_valid():
            services.save_year(request.user, school, **year_form.cleaned_data)
            messages.success(request, _("The school year is saved."))
            return redirect("schoolyear:school_year")
        if request.POST.get("form") == "rule" and rule_form.is_valid():
            services.save_rule(request.user, school, **rule_form.cleaned_data)
            messages.success(request, _("The rule is saved."))
            return redirect("schoolyear:school_year")
    classes = list(
        Group.objects.for_school(school)
        .filter(kind=Group.Kind.CLASS, is_active=True, archived_year="")
        .select_related("rollover_exception")
        .order_by("grade", "name")
    )
    leavers = {}
    for group_id in (
        Membership.objects.for_school(school)
        .filter(group__in=classes, user__rollover_leaver__isnull=False)
        .values_list("group_id", flat=True)
    ):
        leavers[group_id] = leavers.get(group_id, 0) + 1
    rows = [
        (group, getattr(group, "rollover_exception", None), leavers.get(group.pk, 0))
        for group in classes
    ]
    return render(
        request,
        "schoolyear/office.html",
        {
            "year": year,
            "holidays": services.holidays_of(year) if year else [],
            "year_form": year_form,
            "rule_form": rule_form,
            "rows": rows,
        },
    )


@school_admin_required
def class_rule(request: HttpRequest, pk: int) -> HttpResponse:
    """One class's exception from the rule and its leavers."""
    school = request.user.school
    group = get_object_or_404(
        Group.objects.for_school(school).filter(archived_year="", kind=Group.Kind.CLASS), pk=pk
    )
    exception = ClassException.objects.for_school(school).filter(group=group).first()
    form = ExceptionForm(
        request.POST or None,
        initial={"action": exception.action, "target": exception.target} if exception else None,
    )
    students = list(
        User.objects.for_school(school)
        .filter(memberships__group=group, memberships__role=Membership.Role.MEMBER, is_active=True)
        .order_by("last_name", "first_name")
    )
    marked = set(
        Leaver.objects.for_school(school)
        .filter(user__in=students)
        .values_list("user_id", flat=True)
    )
    if request.method == "POST" and form.is_valid():
        services.set_exception(
            request.user, group, form.cleaned_data["action"], form.cleaned_data["target"]
        )
        chosen = {int(v) for v in request.POST.getlist("leaver") if v.isdigit()}
        services.set_leavers(request.user, group, chosen)
        messages.success(request, _("Saved for %(name)s.") % {"name": group.name})
        return redirect("schoolyear:school_year")
    return render(
        request,
        "schoolyear/class_rule.html",
        {"group": group, "form": form, "students": students, "marked": marked},
    )


@heavy
@school_admin_required
def rollover(request: HttpRequest) -> HttpResponse:
    """GET: the dry run. POST: the real run of exactly the plan the dry run showed."""
    school = request.user.school
    problem = ""
    if request.method == "POST":
        try:
            plan = services.rollover(
                request.user, school, dry_run=False, expected=request.POST.get("plan", "-")
            )
        except services.RolloverRefused as error:
            problem = str(error.message)
        else:
            messages.success(
                request,
                _("The school year %(year)s has begun: %(classes)d classes moved up.")
                % {"year": plan.year_to, "classes": len(plan.new_classes)},
            )
            return redirect("schoolyear:school_year")
    plan = services.plan_rollover(school)

    def names(ids: list[int]) -> list[str]:
        return [plan.names.get(uid, str(uid)) for uid in ids]

    return render(
        request,
        "schoolyear/rollover.html",
        {
            "plan": plan,
            "problem": problem,
            "moves": [
                (move, names(move.students), names(move.teachers), names(move.leaving))
                for move in plan.moves
            ],
            "deactivated": [(plan.names.get(uid, uid), why) for uid, why in plan.deactivated],
            "archived": plan.archived_counts,
        },
    )


def _preview_key(user: User, key: str) -> str:
    return f"schoolyear:sis:{user.pk}:{key}"


@heavy
@school_admin_required
def sync(request: HttpRequest) -> HttpResponse:
    """Upload an export, see the difference, apply exactly that difference. The file waits
    in the cache (15 minutes, for this admin only) between the preview and "apply"; the
    preview's digest comes with "apply", and a changed plan is refused and shown anew."""
    school, user = request.user.school, request.user
    form = SyncForm(request.POST or None, request.FILES or None)
    problems: list = []
    refused = ""
    diff = pending = None
    if request.method == "POST":
        data = None
        if request.POST.get("pending"):
            data = cache.get(_preview_key(user, request.POST["pending"]))
            if data is None:
                problems.append(_("The preview has expired. Please upload the file again."))
        elif form.is_valid():
            data = form.cleaned_data["file"].read()
        if data is not None:
            try:
                kind, records = sis.parse(data)
                diff = sis.diff_for(school, kind, records)
                if request.POST.get("pending"):
                    cache.delete(_preview_key(user, request.POST["pending"]))
                    result = sis.apply(user, school, diff, expected=request.POST.get("plan", "-"))
                    return _synced(request, result)
            except sis.SyncRefused as error:
                refused = str(error.message)
            except importing.ImportFileError as error:
                problems = error.errors
                diff = None
            if diff is not None and diff.has_changes:
                pending = secrets.token_urlsafe(16)
                cache.set(_preview_key(user, pending), data, PREVIEW_SECONDS)
    return render(
        request,
        "schoolyear/sync.html",
        {
            "form": form,
            "problems": problems,
            "refused": refused,
            "diff": diff,
            "pending": pending,
            "format": sis.FORMATS.get(diff.format) if diff else "",
        },
    )


def _synced(request: HttpRequest, result: sis.SyncResult) -> HttpResponse:
    """Say what the sync did and show the new accounts' sign-in slips."""
    school, user, diff = request.user.school, request.user, result.diff
    messages.success(
        request,
        _(
            "Synced: %(linked)d existing accounts linked, %(deactivated)d "
            "accounts of people who left deactivated."
        )
        % {"linked": len(diff.linked), "deactivated": len(result.deactivated)},
    )
    token = credentials.store(
        user.pk,
        school.pk,
        result.imported.credentials,
        kind="import",
        summary={
            "created": len(result.imported.created),
            "updated": len(result.imported.updated),
            "unchanged": result.imported.unchanged,
            "groups_created": [g.name for g in result.imported.groups_created],
            "format": sis.FORMATS[diff.format],
        },
    )
    return redirect("accounts:credentials", token=token)


# ------------------------------------------------------------------------- archives


@login_required
def archives(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "schoolyear/archives.html",
        {
            "groups": list(archive.archives_for(request.user)),
            "left_school": access.signs_in_read_only(request.user),
        },
    )


@login_required
def archive_detail(request: HttpRequest, pk: int) -> HttpResponse:
    group, role = archive.archive_for(request.user, pk)
    return render(
        request,
        "schoolyear/archive.html",
        {
            "group": group,
            "role": role,
            "tasks": archive.tasks_of(request.user, group, role),
            "room_messages": archive.messages_of(group, role),
            "files": archive.files_of(group, role),
        },
    )


@login_required
def archive_file(request: HttpRequest, pk: int, node: int) -> HttpResponse:
    group, _role = archive.archive_for(request.user, pk)
    found = archive.file_for(request.user, group, node)
    return blob_response(found.blob, found.name)
