"""School admin pages for classes, courses and working groups and their people."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kreide.accounts.models import User
from kreide.core.paging import page_of
from kreide.schools import services
from kreide.schools.access import school_admin_required
from kreide.schools.forms import AddMembersForm, GroupFilterForm, GroupForm, SchoolSettingsForm
from kreide.schools.models import Group, Membership


def _school_group(request: HttpRequest, pk: int) -> Group:
    return get_object_or_404(Group.objects.for_school(request.user.school), pk=pk)


@school_admin_required
def group_list(request: HttpRequest) -> HttpResponse:
    form = GroupFilterForm(request.GET or None)
    groups = Group.objects.for_school(request.user.school)
    status = ""
    if form.is_valid():
        status = form.cleaned_data["status"]
        if form.cleaned_data["q"]:
            groups = groups.filter(name__icontains=form.cleaned_data["q"])
        if form.cleaned_data["kind"]:
            groups = groups.filter(kind=form.cleaned_data["kind"])
    if status != "all":
        groups = groups.filter(is_active=status != "inactive")
    groups = (
        groups.select_related("subject")
        .annotate(
            member_count=Count("memberships", filter=Q(memberships__role=Membership.Role.MEMBER)),
            teacher_count=Count("memberships", filter=Q(memberships__role=Membership.Role.TEACHER)),
        )
        .order_by("grade", "name")
    )
    page, query = page_of(request, groups)
    return render(
        request, "schools/admin/group_list.html", {"form": form, "page": page, "query": query}
    )


@school_admin_required
def group_create(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    form = GroupForm(school, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = services.create_group(request.user, school, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("%(name)s was created.") % {"name": group})
            return redirect("accounts:group_edit", pk=group.pk)
    return render(request, "schools/admin/group_form.html", {"form": form})


@school_admin_required
def group_edit(request: HttpRequest, pk: int) -> HttpResponse:
    school = request.user.school
    group = _school_group(request, pk)
    form = GroupForm(school, request.POST or None, instance=group, prefix="group")
    add_form = AddMembersForm(school, prefix="add")
    if request.method == "POST" and form.is_valid():
        try:
            services.update_group(request.user, group, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect("accounts:group_edit", pk=group.pk)
    return _group_page(request, group, form, add_form)


def _group_page(request, group, form, add_form) -> HttpResponse:
    memberships = list(
        Membership.objects.for_school(group.school_id)
        .filter(group=group)
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    )
    return render(
        request,
        "schools/admin/group_form.html",
        {
            "form": form,
            "add_form": add_form,
            "group": group,
            "teachers": [m.user for m in memberships if m.role == Membership.Role.TEACHER],
            "members": [m.user for m in memberships if m.role == Membership.Role.MEMBER],
        },
    )


@require_POST
@school_admin_required
def group_add_members(request: HttpRequest, pk: int) -> HttpResponse:
    school = request.user.school
    group = _school_group(request, pk)
    add_form = AddMembersForm(school, request.POST, prefix="add")
    if not add_form.is_valid():
        form = GroupForm(school, instance=group, prefix="group")
        return _group_page(request, group, form, add_form)
    added = services.add_members(request.user, group, add_form.cleaned_data["usernames"])
    messages.success(request, _("%(count)d added.") % {"count": added})
    return redirect("accounts:group_edit", pk=group.pk)


@require_POST
@school_admin_required
def group_remove_member(request: HttpRequest, pk: int, user_pk: int) -> HttpResponse:
    group = _school_group(request, pk)
    user = get_object_or_404(User.objects.for_school(request.user.school), pk=user_pk)
    services.remove_member(request.user, group, user)
    messages.success(
        request, _("%(name)s was removed from %(group)s.") % {"name": user, "group": group}
    )
    return redirect("accounts:group_edit", pk=group.pk)


@require_POST
@school_admin_required
def group_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    group = _school_group(request, pk)
    active = request.POST.get("active") == "1"
    services.set_group_active(request.user, group, active)
    if active:
        messages.success(request, _("%(name)s is active again.") % {"name": group})
    else:
        messages.success(request, _("%(name)s was deactivated.") % {"name": group})
    return redirect("accounts:group_edit", pk=group.pk)


@school_admin_required
def school_settings(request: HttpRequest) -> HttpResponse:
    """The school's settings: what students, parents and public links may do."""
    school = request.user.school
    form = SchoolSettingsForm(request.POST or None, instance=school)
    if request.method == "POST" and form.is_valid():
        services.update_settings(request.user, form.cleaned_data)
        messages.success(request, _("The settings are saved."))
        return redirect("accounts:settings")
    return render(request, "schools/admin/settings.html", {"form": form})
