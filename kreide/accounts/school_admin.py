"""The school office's pages: accounts, import, sign-in slips, audit log, "My classes".

Views are thin: they fetch objects through the signed-in user's school (another school's
id is a 404) and leave every write, permission check and audit entry to services.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache

from kreide.accounts import credentials, importing, services, twofactor, upstream_office
from kreide.accounts.forms import AuditFilterForm, ImportForm, UserFilterForm, UserForm
from kreide.accounts.models import User
from kreide.accounts.permissions import can_reprint_slips, can_reset_password
from kreide.core import audit
from kreide.core.confirm import confirm_page
from kreide.core.http import is_safe_next
from kreide.core.models import AuditEntry
from kreide.core.paging import page_of
from kreide.schools import access
from kreide.schools.access import school_admin_required
from kreide.schools.models import Group, Membership


def _labelled(entries) -> list[AuditEntry]:
    entries = list(entries)
    for entry in entries:
        entry.label = audit.label(entry.action)
    return entries


def _school_user(request: HttpRequest, pk: int) -> User:
    return get_object_or_404(User.objects.for_school(request.user.school), pk=pk)


def _slips_for(request: HttpRequest, user: User, password: str) -> str:
    groups = (
        Group.objects.for_school(user.school_id)
        .filter(memberships__user=user)
        .order_by("grade", "name")
    )
    entry = credentials.Credential(
        user.first_name,
        user.last_name,
        user.username,
        password,
        credentials.slip_group(list(groups)),
    )
    return credentials.store(request.user.pk, request.user.school_id, [entry], kind="reset")


@school_admin_required
def user_list(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    form = UserFilterForm(school, request.GET or None)
    users = User.objects.for_school(school)
    status = ""
    if form.is_valid():
        data = form.cleaned_data
        status = data["status"]
        for word in data["q"].split()[:4]:
            users = users.filter(
                Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
                | Q(username__icontains=word)
                | Q(email__icontains=word)
            )
        if data["role"]:
            users = users.filter(role=data["role"])
        if data["group"]:
            users = users.filter(memberships__group=data["group"])
    if status != "all":
        users = users.filter(is_active=status != "inactive")
    users = users.order_by("last_name", "first_name", "pk").prefetch_related(
        Prefetch(
            "memberships",
            queryset=Membership.objects.for_school(school)
            .select_related("group")
            .order_by("group__grade", "group__name"),
        )
    )
    page, query = page_of(request, users)
    return render(
        request, "accounts/admin/user_list.html", {"form": form, "page": page, "query": query}
    )


@school_admin_required
def user_create(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    form = UserForm(school, request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user, initial = services.create_user(
                request.user,
                school,
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                role=data["role"],
                email=data["email"],
                groups=data["groups"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("The account %(name)s was created.") % {"name": user})
            token = _slips_for(request, user, initial)
            return redirect("accounts:credentials", token=token)
    return render(request, "accounts/admin/user_form.html", {"form": form})


@school_admin_required
def user_edit(request: HttpRequest, pk: int) -> HttpResponse:
    school = request.user.school
    user = _school_user(request, pk)
    form = UserForm(school, request.POST or None, instance=user, editor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_user(
                request.user,
                user,
                groups=data["groups"],
                **{f: data[f] for f in ("first_name", "last_name", "username", "email", "role")},
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Your changes were saved."))
            return redirect("accounts:user_list")
    history = _labelled(
        AuditEntry.objects.for_school(school)
        .filter(target_type="accounts.user", target_id=str(user.pk))
        .select_related("actor")[:10]
    )
    return render(
        request,
        "accounts/admin/user_form.html",
        {
            "form": form,
            "account": user,
            "history": history,
            "two_factor": twofactor.is_enabled(user),
            "external_ids": upstream_office.identities_of(user),
        },
    )


@school_admin_required
def user_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    """Reactivating is one click; deactivating is asked once more (GET), then posted."""
    user = _school_user(request, pk)
    if request.method != "POST":
        return confirm_page(
            request,
            question=_("Deactivate %(name)s?") % {"name": _full_name(user)},
            consequence=_(
                "%(username)s can no longer sign in. Files, hand-ins and messages stay; "
                "the account can be reactivated at any time."
            )
            % {"username": user.username},
            confirm_label=_("Deactivate account"),
            cancel_url=reverse("accounts:user_edit", args=[user.pk]),
            fields={"active": "0"},
        )
    active = request.POST.get("active") == "1"
    services.set_active(request.user, user, active)
    if active:
        messages.success(request, _("%(name)s can sign in again.") % {"name": user})
    else:
        messages.success(request, _("%(name)s was deactivated.") % {"name": user})
    return redirect("accounts:user_edit", pk=user.pk)


@school_admin_required
def user_reset_two_factor(request: HttpRequest, pk: int) -> HttpResponse:
    user = _school_user(request, pk)
    if request.method != "POST":
        return confirm_page(
            request,
            question=_("Turn off two-factor sign-in of %(name)s?") % {"name": _full_name(user)},
            consequence=_(
                "Signing in as %(username)s then needs only the password. Do this only when "
                "both the phone and the backup codes are lost."
            )
            % {"username": user.username},
            confirm_label=_("Turn off two-factor sign-in"),
            cancel_url=reverse("accounts:user_edit", args=[user.pk]),
        )
    twofactor.reset_by_admin(request.user, user)
    messages.success(request, _("Two-factor sign-in of %(name)s is off.") % {"name": user})
    return redirect("accounts:user_edit", pk=user.pk)


@login_required
def password_reset(request: HttpRequest, pk: int) -> HttpResponse:
    """Admins for everyone of their school, teachers for students they teach (else 403);
    asked once more first: the current password stops working at once."""
    if request.user.school_id is None:
        raise Http404
    user = _school_user(request, pk)
    if request.method != "POST":
        if not can_reset_password(request.user, user):
            raise PermissionDenied
        return confirm_page(
            request,
            question=_("Reset the password of %(name)s?") % {"name": _full_name(user)},
            consequence=_(
                "The current password of %(username)s stops working at once. You get a slip "
                "with a new initial password to hand over; a new password of their own is "
                "chosen at the next sign-in."
            )
            % {"username": user.username},
            confirm_label=_("Reset password"),
            cancel_url=_back(request),
        )
    password = services.reset_password(request.user, user)
    return redirect("accounts:credentials", token=_slips_for(request, user, password))


@login_required
def reprint_slips(request: HttpRequest, pk: int) -> HttpResponse:
    """New slips for the students of a group who have not signed in yet (teachers, admins),
    after showing whose slips are replaced."""
    if request.user.school_id is None:
        raise Http404
    group = get_object_or_404(Group.objects.for_school(request.user.school), pk=pk)
    if request.method != "POST":
        if not can_reprint_slips(request.user, group):
            raise PermissionDenied
        waiting = list(services.awaiting_first_sign_in(group))
        if not waiting:
            messages.info(
                request, _("Everyone in %(group)s has signed in already.") % {"group": group}
            )
            return redirect(_back(request))
        return confirm_page(
            request,
            question=_("New slips for %(group)s?") % {"group": group},
            consequence=ngettext(
                "This student has not signed in yet and gets a new initial password; "
                "the old slip stops working.",
                "These %(count)d students have not signed in yet and get new initial "
                "passwords; their old slips stop working.",
                len(waiting),
            )
            % {"count": len(waiting)},
            confirm_label=_("Print new slips"),
            cancel_url=_back(request),
            affected=[_full_name(student) for student in waiting],
        )
    slips = services.reprint_initial_passwords(request.user, group)
    token = credentials.store(
        request.user.pk, request.user.school_id, slips, kind="reprint", group=group.name
    )
    return redirect("accounts:credentials", token=token)


def _full_name(user: User) -> str:
    return f"{user.first_name} {user.last_name}".strip() or user.username


def _back(request: HttpRequest) -> str:
    """Where "Cancel" leads: the page the button was on (this site only), else "My classes"."""
    referer = request.headers.get("Referer", "")
    return referer if is_safe_next(request, referer) else reverse("accounts:my_classes")


@school_admin_required
def import_view(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    form = ImportForm(request.POST or None, request.FILES or None)
    problems: list[importing.RowError] = []
    file_format = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        try:
            file_format = importing.read_format(data)
            rows = importing.parse(data, school)
        except importing.ImportFileError as error:
            problems = error.errors
        else:
            result = services.import_users(request.user, school, rows)
            token = credentials.store(
                request.user.pk,
                school.pk,
                result.credentials,
                kind="import",
                summary={
                    "created": len(result.created),
                    "updated": len(result.updated),
                    "unchanged": result.unchanged,
                    "groups_created": [g.name for g in result.groups_created],
                    "format": file_format.describe(),
                },
            )
            return redirect("accounts:credentials", token=token)
    return render(
        request,
        "accounts/admin/import.html",
        {
            "form": form,
            "problems": problems,
            "file_format": file_format,
            "columns": importing.REQUIRED_COLUMNS + importing.OPTIONAL_COLUMNS,
        },
    )


def _stored(request: HttpRequest, token: str) -> dict:
    entry = credentials.load(token, request.user.pk)
    if entry is None:
        raise Http404
    return entry


@never_cache
@login_required
def credentials_page(request: HttpRequest, token: str) -> HttpResponse:
    """The new passwords once on screen, with the PDF of slips (only for who made them)."""
    entry = _stored(request, token)
    return render(
        request,
        "accounts/admin/credentials.html",
        {
            "entry": entry,
            "items": credentials.sorted_for_print(entry["credentials"]),
            "token": token,
            "minutes": credentials.CACHE_SECONDS // 60,
        },
    )


@never_cache
@login_required
def credentials_pdf(request: HttpRequest, token: str) -> HttpResponse:
    entry = _stored(request, token)
    school = request.user.school
    pdf = credentials.render_pdf(
        entry["credentials"],
        school.name,
        school.address,
        site_url=settings.PUBLIC_URL or request.build_absolute_uri("/"),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="zugangsdaten.pdf"'
    return response


@school_admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    entries = AuditEntry.objects.for_school(school)
    actions = list(entries.order_by("action").values_list("action", flat=True).distinct())
    form = AuditFilterForm(
        [(action, audit.label(action)) for action in actions], request.GET or None
    )
    if form.is_valid() and form.cleaned_data["action"]:
        entries = entries.filter(action=form.cleaned_data["action"])
    page, query = page_of(request, entries.select_related("actor"))
    page.object_list = _labelled(page.object_list)
    context = {"form": form, "page": page, "query": query}
    return render(request, "accounts/admin/audit.html", context)


@login_required
def my_classes(request: HttpRequest) -> HttpResponse:
    """A teacher's classes and groups with their students, for password help."""
    if not (access.participates(request.user) and request.user.is_teacher):
        raise PermissionDenied
    school = request.user.school
    groups = list(
        access.taught_groups(request.user).prefetch_related(
            Prefetch(
                "memberships",
                queryset=Membership.objects.for_school(school)
                .filter(role=Membership.Role.MEMBER, user__is_active=True)
                .select_related("user")
                .order_by("user__last_name", "user__first_name"),
                to_attr="students",
            )
        )
    )
    return render(request, "accounts/my_classes.html", {"groups": groups})
