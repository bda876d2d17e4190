"""Parents' pages, the class teachers' absence list and the school office's parent links."""

from __future__ import annotations

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kreide.accounts import credentials
from kreide.accounts.models import User
from kreide.core.confirm import confirm_page
from kreide.core.paging import page_of
from kreide.parents import services
from kreide.parents.dashboard import is_parent
from kreide.parents.forms import (
    AbsenceForm,
    CodeForm,
    InviteForm,
    LinkForm,
    ParentFileForm,
    SignUpForm,
)
from kreide.parents.models import ParentLink
from kreide.parents.services import ParentRefusal
from kreide.schools import access
from kreide.schools.access import school_admin_required
from kreide.schools.models import Group


def _parent(request: HttpRequest) -> User:
    if not is_parent(request):
        raise PermissionDenied
    return request.user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    parent = _parent(request)
    children = list(access.children_of(parent))
    if len(children) == 1:
        return redirect("parents:child", pk=children[0].pk)
    return render(request, "parents/home.html", {"children": children})


@login_required
def child(request: HttpRequest, pk: int) -> HttpResponse:
    parent = _parent(request)
    kid = services.child_of(parent, pk)
    groups = services.child_groups(parent, kid)
    return render(
        request,
        "parents/child.html",
        {
            "child": kid,
            "children": list(access.children_of(parent)),
            "tasks": services.child_tasks(kid, groups),
            # The school decides whether parents read the tasks' text (school office).
            "task_contents": parent.school.parents_see_task_contents,
            "days": services.child_days(kid, groups),
            "dates": services.child_dates(parent, groups),
            "reports": services.reported_by_parent(parent).filter(child=kid)[:10],
            "form": AbsenceForm(),
        },
    )


@login_required
def report_absence(request: HttpRequest, pk: int) -> HttpResponse:
    parent = _parent(request)
    kid = services.child_of(parent, pk)
    form = AbsenceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.report_absence(parent, kid, **form.cleaned_data)
        except ParentRefusal as refusal:
            form.add_error(None, str(refusal.message))
        else:
            messages.success(
                request, _("The absence of %(name)s is reported to the school.") % {"name": kid}
            )
            return redirect("parents:child", pk=kid.pk)
    return render(request, "parents/absence_form.html", {"child": kid, "form": form})


@login_required
def add_child(request: HttpRequest) -> HttpResponse:
    parent = _parent(request)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            link = services.redeem_for(parent, form.cleaned_data["code"])
        except ParentRefusal as refusal:
            form.add_error("code", str(refusal.message))
        else:
            messages.success(request, _("%(name)s was added.") % {"name": link.child})
            return redirect("parents:child", pk=link.child_id)
    return render(request, "parents/add_child.html", {"form": form})


@never_cache
def join(request: HttpRequest) -> HttpResponse:
    """A parent creates their own account with the code from a slip."""
    if request.user.is_authenticated:
        return redirect("parents:add_child" if is_parent(request) else "dashboard:home")
    form = SignUpForm(request.POST or None, initial={"code": request.GET.get("code", "")[:40]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            parent = services.redeem_new(
                data["code"],
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                password=data["password"],
            )
        except ParentRefusal as refusal:
            form.add_error(None, str(refusal.message))
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, parent, backend=settings.AUTHENTICATION_BACKENDS[0])
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect("parents:home")
    return render(request, "parents/join.html", {"form": form})


@login_required
def absences(request: HttpRequest) -> HttpResponse:
    reports = services.absences_for(request.user)
    if not (
        access.participates(request.user)
        and (request.user.is_teacher or request.user.is_school_admin)
    ):
        raise PermissionDenied
    page, query = page_of(request, reports.order_by("acknowledged_at", "-created_at"))
    return render(request, "parents/absences.html", {"page": page, "query": query})


@login_required
@require_POST
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    report = services.acknowledge(request.user, pk)
    messages.success(request, _("Acknowledged: %(report)s.") % {"report": report})
    return redirect("parents:absences")


# --- School office -----------------------------------------------------------------------


def _student(school, username: str) -> User | None:
    return User.objects.for_school(school).filter(username=username).first()


@school_admin_required
def office(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    link_form = LinkForm(prefix="link")
    file_form = ParentFileForm(prefix="file")
    problems: list[str] = []
    if request.method == "POST" and "link-parent" in request.POST:
        link_form = LinkForm(request.POST, prefix="link")
        if link_form.is_valid():
            parent = _student(school, link_form.cleaned_data["parent"])
            kid = _student(school, link_form.cleaned_data["child"])
            if parent is None or kid is None:
                link_form.add_error(None, _("There is no such account at this school."))
            else:
                try:
                    services.link(request.user, parent, kid)
                except ParentRefusal as refusal:
                    link_form.add_error(None, str(refusal.message))
                else:
                    messages.success(
                        request,
                        _("%(parent)s is linked to %(child)s.") % {"parent": parent, "child": kid},
                    )
                    return redirect("parents:office")
    elif request.method == "POST":
        file_form = ParentFileForm(request.POST, request.FILES, prefix="file")
        if file_form.is_valid():
            try:
                result = services.import_parents(
                    request.user, file_form.cleaned_data["file"].read()
                )
            except ParentRefusal as refusal:
                problems = [str(refusal.message)]
            else:
                problems = result.errors
                if not problems:
                    token = credentials.store(
                        request.user.pk,
                        school.pk,
                        [
                            credentials.Credential(
                                p.first_name, p.last_name, p.username, password, _("Parents")
                            )
                            for p, password in result.created
                        ],
                        kind="import",
                        summary={
                            "created": len(result.created),
                            "updated": 0,
                            "unchanged": result.linked - len(result.created),
                            "groups_created": [],
                            "format": "",
                        },
                    )
                    messages.success(
                        request, _("%(count)d links imported.") % {"count": result.linked}
                    )
                    return redirect("accounts:credentials", token=token)
    page, query = page_of(request, services.school_links(school))
    return render(
        request,
        "parents/office.html",
        {
            "page": page,
            "query": query,
            "link_form": link_form,
            "file_form": file_form,
            "problems": problems,
            "invite_form": InviteForm(_classes(school)),
        },
    )


def _classes(school):
    return (
        Group.objects.for_school(school)
        .filter(kind=Group.Kind.CLASS, is_active=True)
        .order_by("grade", "name")
    )


@school_admin_required
def office_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    link = get_object_or_404(ParentLink.objects.for_school(request.user.school_id), pk=pk)
    if request.method != "POST":
        return confirm_page(
            request,
            question=_("Remove this parent link?"),
            consequence=_("%(parent)s no longer sees anything of %(child)s.")
            % {"parent": link.parent, "child": link.child},
            confirm_label=_("Remove link"),
            cancel_url=reverse("parents:office"),
        )
    services.unlink(request.user, link)
    messages.success(request, _("The link was removed."))
    return redirect("parents:office")


@school_admin_required
@require_POST
def office_invite(request: HttpRequest) -> HttpResponse:
    """Print a slip with a fresh code (and its QR code) for every student of a class."""
    form = InviteForm(_classes(request.user.school), request.POST)
    if not form.is_valid():
        messages.error(request, _("Please choose a class."))
        return redirect("parents:office")
    group = form.cleaned_data["group"]
    students = list(
        User.objects.for_school(request.user.school_id)
        .filter(
            pk__in=access.member_ids(request.user.school_id, [group]),
            role=User.Role.STUDENT,
            is_active=True,
        )
        .order_by("last_name", "first_name")
    )
    join_url = request.build_absolute_uri(reverse("parents:join"))
    slips = [
        {
            "child": kid,
            "code": code,
            "qr": segno.make(f"{join_url}?code={code}", error="m").svg_data_uri(scale=3, border=2),
        }
        for kid, code in services.invite(request.user, students)
    ]
    response = render(
        request,
        "parents/slips.html",
        {"group": group, "slips": slips, "join_url": join_url, "days": services.INVITATION_DAYS},
    )
    response["Cache-Control"] = "no-store"
    return response
