"""The files pages: folders, trash, sharing, public links, quotas, app passwords.

Views are thin: they find the object through the user's school (another school's id is
a 404), ask `Actor` what the user may do, and call a service."""

from __future__ import annotations

from datetime import timedelta

from csp.decorators import csp_replace
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from kreide.accounts.models import User
from kreide.core import fragments
from kreide.core.ids import parse_id, valid_ids
from kreide.files import services
from kreide.files.dav import is_locked
from kreide.files.models import AppPassword, FileSettings, GroupWriter, Node, PublicLink, Share
from kreide.files.services import Actor, FileError, Level
from kreide.files.zipstream import zip_chunks
from kreide.schools import access
from kreide.schools.models import Group
from kreide.storage import previews
from kreide.storage.blobstore import StorageFull, full_disk_refused
from kreide.storage.downloads import blob_response, content_disposition


def preview_kind(node: Node) -> str | None:
    """image or pdf: what the file viewer shows inline."""
    if node.is_folder:
        return None
    kind = previews.preview_kind(node.name)
    return kind if kind in ("image", "pdf") else None


def _actor(request: HttpRequest) -> Actor:
    if not request.user.school_id:
        raise Http404
    return Actor.of_request(request)


def _node(actor: Actor, pk: int, needed: Level = Level.READ) -> Node:
    node = (
        Node.objects.for_school(actor.school_id)
        .select_related("space", "space__group", "space__user", "blob")
        .filter(pk=pk)
        .first()
    )
    if node is None or actor.level(node) == Level.NONE:
        raise Http404
    if actor.level(node) < needed:
        raise PermissionDenied
    return node


def _trail(actor: Actor, node: Node) -> list[Node]:
    """The folders above `node` the user may see (from the space root, or from the
    shared folder they were given)."""
    above = {
        n.pk: n for n in Node.objects.for_school(actor.school_id).filter(pk__in=node.ancestor_ids())
    }
    trail = [above[pk] for pk in node.ancestor_ids() if pk in above]
    if actor.space_level(node.space) >= Level.READ:
        return trail
    shared = {path for path, _space, _write in actor.shared}
    while trail and trail[0].path not in shared:
        trail.pop(0)
    return trail


def _label(node: Node) -> str:
    return services.space_label(node.space) if node.is_root else node.name


def _back(node: Node) -> HttpResponse:
    return redirect("files:folder", node.pk if node.is_folder else node.parent_id)


def _shown_in(node: Node) -> Node:
    """The folder whose page lists `node`; a space's root (which cannot be renamed,
    moved or deleted: the service says so) is its own."""
    return node.parent or node


def _move_targets(actor: Actor) -> list[tuple[int, str]]:
    """Folders the user may write to, labelled with their path (bounded)."""
    writable = [s for s in services.spaces_for(actor) if actor.space_level(s) == Level.WRITE]
    folders = list(
        Node.objects.for_school(actor.school_id)
        .filter(space__in=writable, is_folder=True, deleted_at=None)
        .select_related("space", "space__group")
        .order_by("space_id", "path")[:500]
    )
    names = {f.pk: _label(f) for f in folders}
    labelled = [(f.pk, " / ".join(names.get(pk, "…") for pk in f.ancestor_ids())) for f in folders]
    return sorted(labelled, key=lambda item: item[1].lower())


@login_required
def home(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    # The spaces with their roots, usage and quotas: one query for all.
    rows = [
        {
            "space": s,
            "label": services.space_label(s),
            "root": s.root_id,
            "used": s.used,
            "quota": s.quota,
        }
        for s in services.spaces_for(actor, figures=True)
    ]
    # The user's groups as loaded for this request: the ids of what is shared with them
    # come from the fragment cache, and most students have none (no query). Their
    # versions and entries are read with the page's own keys (the navigation's counts,
    # the banners) in one round trip; what a first visit misses (the user's new version
    # and entry, the navigation's counts computed while the page renders) is written in
    # one at the end.
    group_ids = access.request_group_ids(request)
    with fragments.batch():
        fragments.prefetch_with_page(
            request, [], entries=services.candidate_fragments(request.user, group_ids)
        )
        shares = services.shared_with_me(request.user, limit=50, group_ids=group_ids)
        return render(
            request,
            "files/home.html",
            {
                "rows": rows,
                "shares": shares,
                "is_admin": access.is_admin_of(request.user, request.user.school),
            },
        )


@login_required
def folder(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _node(actor, pk)
    if not node.is_folder:
        return redirect("files:view", node.pk)
    level = actor.level(node)
    items = services.children(node)
    for item in items:
        item.preview = preview_kind(item)
    context = {
        "node": node,
        "label": _label(node),
        "trail": _trail(actor, node)[:-1],
        "items": items,
        "can_write": level == Level.WRITE,
        "can_share": actor.space_level(node.space) == Level.WRITE,
        "used": services.usage_bytes(node.space),
        "quota": services.quota_bytes(node.space),
        "targets": _move_targets(actor) if level == Level.WRITE else [],
        "is_group_teacher": node.space.group_id
        and actor.roles.get(node.space.group_id) == access.TEACHER,
    }
    return render(request, "files/folder.html", context)


class NameForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=255)


def _name_from(request: HttpRequest) -> str:
    form = NameForm(request.POST)
    if not form.is_valid():
        raise FileError(_("Please enter a name."))
    return services.clean_name(form.cleaned_data["name"])


def _unlocked(node: Node) -> None:
    if is_locked(node):
        raise FileError(
            _("“%(name)s” is open in a program right now (WebDAV lock). Please try again later.")
            % {"name": node.name}
        )


def _run(
    request: HttpRequest, node: Node, action, success: str, back: HttpResponse | None = None
) -> HttpResponse:
    """Run a service call; its refusal becomes a message on the page it returns to (the
    folder's unless `back` is given)."""
    try:
        action()
    except FileError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, success)
    return back or _back(node)


@login_required
@require_POST
def mkdir(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _node(actor, pk, Level.WRITE)

    def create() -> None:
        services.create_folder(actor, node, _name_from(request))

    return _run(request, node, create, _("Folder created."))


@login_required
@require_POST
def upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Plain form upload (without JavaScript); the page uses resumable uploads instead."""
    actor = _actor(request)
    node = _node(actor, pk, Level.WRITE)
    try:
        with full_disk_refused():  # Django writes large files to a temporary file first
            files = request.FILES.getlist("files")
        return _run(
            request, node, lambda: services.add_uploaded_files(actor, node, files), _("Uploaded.")
        )
    except StorageFull as full:
        response = render(
            request,
            "core/error.html",
            {"heading": _("Storage full"), "explanation": full.message},
            status=507,
        )
        response["Retry-After"] = str(full.retry_after)
        return response


@login_required
@require_POST
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _node(actor, pk)

    def change() -> None:
        _unlocked(node)
        services.rename(actor, node, _name_from(request))

    return _run(request, _shown_in(node), change, _("Renamed."))


def _target(actor: Actor, request: HttpRequest) -> Node:
    try:
        return _node(actor, parse_id(request.POST.get("target", "")), Level.WRITE)
    except ValueError as error:
        raise Http404 from error


@login_required
@require_POST
def move(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _node(actor, pk)
    target = _target(actor, request)

    def change() -> None:
        _unlocked(node)
        services.move(actor, node, target, clash="rename")

    return _run(request, _shown_in(node), change, _("Moved."))


@login_required
@require_POST
def copy(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _node(actor, pk)
    target = _target(actor, request)

    def change() -> None:
        services.copy(actor, node, target, clash="rename")

    return _run(request, target, change, _("Copied."))


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _node(actor, pk)

    def change() -> None:
        _unlocked(node)
        services.trash(actor, node)

    return _run(
        request,
        _shown_in(node),
        change,
        _("Moved to the trash. You can restore it there for %(days)s days.")
        % {"days": services.TRASH_DAYS},
    )


@login_required
def trash(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    entries = services.trash_entries(actor)
    for entry in entries:
        entry.space_label = services.space_label(entry.space)
        entry.purge_on = entry.deleted_at + timedelta(days=services.TRASH_DAYS)
    return render(request, "files/trash.html", {"entries": entries})


@login_required
@require_POST
def restore(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = Node.objects.for_school(actor.school_id).select_related("space").filter(pk=pk).first()
    if node is None or actor.space_level(node.space) == Level.NONE:
        raise Http404
    try:
        node = services.restore(actor, node)
    except FileError as error:
        messages.error(request, error.message)
        return redirect("files:trash")
    messages.success(request, _("“%(name)s” is back.") % {"name": node.name})
    return redirect("files:folder", node.parent_id)


@login_required
def download(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _node(actor, pk)
    if node.is_folder:
        return _zip_response(node)
    return blob_response(node.blob, node.name)


def _zip_response(node: Node) -> StreamingHttpResponse:
    name = f"{services.space_label(node.space) if node.is_root else node.name}.zip"
    response = StreamingHttpResponse(zip_chunks(node), content_type="application/zip")
    response["Content-Disposition"] = content_disposition(name)
    return response


@login_required
@xframe_options_sameorigin
@csp_replace({"frame-ancestors": ["'self'"]})
def preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The file itself, inline, for the viewer page's <img> or <iframe> (same origin only)."""
    actor = _actor(request)
    node = _node(actor, pk)
    if preview_kind(node) is None:
        raise Http404
    return blob_response(node.blob, node.name, inline=True)


@login_required
def view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _node(actor, pk)
    if node.is_folder:
        return redirect("files:folder", node.pk)
    return render(
        request,
        "files/view.html",
        {
            "node": node,
            "kind": preview_kind(node),
            "trail": _trail(actor, node)[:-1],
            "can_share": actor.space_level(node.space) == Level.WRITE,
        },
    )


# --- Sharing -----------------------------------------------------------------------------


class ShareForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Person (user name)"), required=False)
    group = forms.ModelChoiceField(
        label=gettext_lazy("or class/group"), queryset=Group.unscoped.none(), required=False
    )
    can_write = forms.BooleanField(label=gettext_lazy("may change"), required=False)

    def __init__(self, *args, school, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.school = school
        self.fields["group"].queryset = Group.objects.for_school(school).filter(is_active=True)

    def clean(self) -> dict:
        data = super().clean()
        username, group = data.get("username", "").strip(), data.get("group")
        if bool(username) == bool(group):
            raise forms.ValidationError(_("Choose either a person or a class/group."))
        if username:
            data["user"] = (
                User.objects.for_school(self.school)
                .filter(username__iexact=username, is_active=True)
                .first()
            )
            if data["user"] is None:
                raise forms.ValidationError(
                    _("There is nobody with this user name at your school.")
                )
        return data


class LinkForm(forms.Form):
    days = forms.IntegerField(
        label=gettext_lazy("Valid for (days)"),
        min_value=1,
        max_value=services.PUBLIC_LINK_MAX_DAYS,
        initial=7,
    )


def _shareable(actor: Actor, pk: int) -> Node:
    """Only who owns the folder (the owner, the group's writers) shares it further."""
    node = _node(actor, pk)
    if actor.space_level(node.space) < Level.WRITE:
        raise PermissionDenied
    return node


@login_required
def share(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _shareable(actor, pk)
    school = request.user.school
    form = ShareForm(request.POST or None, school=school)
    if request.method == "POST" and form.is_valid():
        services.share(
            actor,
            node,
            user=form.cleaned_data.get("user"),
            group=form.cleaned_data.get("group"),
            can_write=form.cleaned_data["can_write"],
        )
        messages.success(request, _("Shared."))
        return redirect("files:share", node.pk)
    shares = Share.objects.for_school(school).filter(node=node).select_related("user", "group")
    links = PublicLink.objects.for_school(school).filter(node=node, expires_at__gt=timezone.now())
    return render(
        request,
        "files/share.html",
        {
            "node": node,
            "form": form,
            "shares": shares,
            "links": links,
            "link_form": LinkForm(),
            "links_allowed": school.public_links_allowed,
        },
    )


@login_required
@require_POST
def unshare(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    entry = Share.objects.for_school(actor.school_id).filter(pk=pk).select_related("node").first()
    if entry is None:
        raise Http404
    _shareable(actor, entry.node_id)
    services.unshare(actor, entry)
    messages.success(request, _("No longer shared."))
    return redirect("files:share", entry.node_id)


@login_required
@require_POST
def create_link(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    node = _shareable(actor, pk)
    form = LinkForm(request.POST)
    days = form.cleaned_data["days"] if form.is_valid() else 0
    return _run(
        request,
        node,
        lambda: services.create_link(actor, node, days),
        _("Public link created."),
        back=redirect("files:share", node.pk),
    )


@login_required
@require_POST
def revoke_link(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    link = PublicLink.objects.for_school(actor.school_id).filter(pk=pk).first()
    if link is None:
        raise Http404
    _shareable(actor, link.node_id)
    services.revoke_link(actor, link)
    messages.success(request, _("The link no longer works."))
    return redirect("files:share", link.node_id)


def _public(token: str, node_id: int | None = None) -> tuple[PublicLink, Node]:
    link = (
        PublicLink.unscoped.select_related("school", "node", "node__space", "node__blob")
        .filter(token=token, expires_at__gt=timezone.now())
        .first()
    )
    if link is None or not link.school.public_links_allowed or link.node.deleted_at:
        raise Http404
    if node_id is None:
        return link, link.node
    node = (
        Node.objects.for_school(link.school_id)
        .select_related("blob", "space")
        .filter(pk=node_id, deleted_at=None, path__startswith=link.node.path)
        .first()
    )
    if node is None:
        raise Http404
    return link, node


def public(request: HttpRequest, token: str, node_id: int | None = None) -> HttpResponse:
    link, node = _public(token, node_id)
    items = services.children(node) if node.is_folder else []
    return render(
        request,
        "files/public.html",
        {
            "link": link,
            "node": node,
            "items": items,
            "label": services.space_label(node.space) if node.is_root else node.name,
        },
    )


def public_download(request: HttpRequest, token: str, node_id: int) -> HttpResponse:
    _link, node = _public(token, node_id)
    if node.is_folder:
        return _zip_response(node)
    return blob_response(node.blob, node.name)


# --- Group write permission, quotas, app passwords ---------------------------------------


@login_required
def writers(request: HttpRequest, group_id: int) -> HttpResponse:
    actor = _actor(request)
    group = Group.objects.for_school(actor.school_id).filter(pk=group_id).first()
    if group is None or actor.roles.get(group.pk) != access.TEACHER:
        raise Http404
    members = list(
        User.objects.for_school(actor.school_id)
        .filter(pk__in=access.member_ids(actor.school_id, [group]))
        .order_by("last_name", "first_name")
    )
    if request.method == "POST":
        services.set_writers(actor, group, valid_ids(request.POST.getlist("writer")))
        messages.success(request, _("Saved."))
        return redirect("files:writers", group.pk)
    current = set(
        GroupWriter.objects.for_school(actor.school_id)
        .filter(group=group)
        .values_list("user_id", flat=True)
    )
    return render(
        request,
        "files/writers.html",
        {
            "group": group,
            "members": members,
            "current": current,
            "root": services.root_of(services.group_space(group)),
        },
    )


class QuotaForm(forms.ModelForm):
    class Meta:
        model = FileSettings
        fields = ["user_quota_mb", "group_quota_mb"]


@login_required
def quotas(request: HttpRequest) -> HttpResponse:
    school = request.user.school
    if not access.is_admin_of(request.user, school):
        raise Http404
    settings = FileSettings.objects.for_school(school).first() or FileSettings(school=school)
    form = QuotaForm(request.POST or None, instance=settings)
    if request.method == "POST" and "override" in request.POST:
        _set_override(request, school)
        return redirect("files:quotas")
    if request.method == "POST" and form.is_valid():
        services.set_default_quotas(
            _actor(request), form.cleaned_data["user_quota_mb"], form.cleaned_data["group_quota_mb"]
        )
        messages.success(request, _("Saved."))
        return redirect("files:quotas")
    groups = list(Group.objects.for_school(school).filter(is_active=True))
    spaces = {
        s.group_id: s for s in services.Space.objects.for_school(school).filter(group__in=groups)
    }
    used = services.usage_of(list(spaces.values()))
    rows = [
        {
            "group": g,
            "space": spaces.get(g.pk),
            "used": used[spaces[g.pk].pk] if g.pk in spaces else 0,
        }
        for g in groups
    ]
    people = (
        services.Space.objects.for_school(school)
        .filter(user__isnull=False, quota_mb__isnull=False)
        .select_related("user")
    )
    return render(request, "files/quotas.html", {"form": form, "rows": rows, "people": people})


def _set_override(request: HttpRequest, school) -> None:
    raw = request.POST.get("quota_mb", "").strip()
    quota = int(raw) if raw.isdigit() else None
    if request.POST.get("group"):
        group = Group.objects.for_school(school).filter(pk=request.POST["group"]).first()
        space = group and services.group_space(group)
    else:
        user = (
            User.objects.for_school(school)
            .filter(username__iexact=request.POST.get("username", "").strip())
            .first()
        )
        space = user and services.personal_space(user)
    if not space:
        messages.error(request, _("There is nobody with this user name at your school."))
        return
    services.set_space_quota(_actor(request), space, quota)
    messages.success(request, _("Saved."))


@login_required
def app_passwords(request: HttpRequest) -> HttpResponse:
    actor = _actor(request)
    created = None
    if request.method == "POST":
        form = NameForm(request.POST)
        if form.is_valid():
            created = services.create_app_password(actor, form.cleaned_data["name"])
    else:
        form = NameForm()
    entries = AppPassword.objects.for_school(actor.school_id).filter(user=request.user)
    return render(
        request,
        "files/app_passwords.html",
        {
            "form": form,
            "entries": entries,
            "created": created,
            "dav_url": request.build_absolute_uri(reverse("dav:dav", args=[""])),
        },
    )


@login_required
@require_POST
def revoke_app_password(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request)
    services.revoke_app_password(actor, pk)
    messages.success(request, _("The app password no longer works."))
    return redirect("files:app_passwords")
