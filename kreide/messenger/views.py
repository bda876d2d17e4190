"""Messenger pages (WSGI): room list, room page, and the JSON endpoints the chat script
uses when the WebSocket is down (polling fallback) and for edit, delete and moderation."""

from __future__ import annotations

from functools import lru_cache, wraps

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.request import split_domain_port
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import json_script
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from kreide.accounts.models import User
from kreide.core import jsonbody
from kreide.core.errors import refusal_response
from kreide.core.ids import parse_id
from kreide.messenger import services
from kreide.messenger.models import Attachment, Room, RoomMember
from kreide.messenger.services import MessengerError, NotFound
from kreide.schools import access
from kreide.schools.models import Group
from kreide.storage.downloads import blob_response


def school_member_required(view):
    """Signed in and belonging to a school; messenger refusals become JSON or a 404."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.user.school_id is None:
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            raise Http404 from error

    return wrapper


def realtime_url(request: HttpRequest) -> str:
    """Where the browser opens the WebSocket: KREIDE_REALTIME_URL if set (behind nginx the
    same-origin "/ws/messenger/"), else this host on the ASGI process's port."""
    if settings.REALTIME_URL:
        return settings.REALTIME_URL
    scheme = "wss" if request.is_secure() else "ws"
    host, _port = split_domain_port(request.get_host())
    return f"{scheme}://{host}:{settings.REALTIME_PORT}/ws/messenger/"


@school_member_required
def index(request: HttpRequest) -> HttpResponse:
    members = services.rooms_for(request.user)
    partners = services.direct_partner_names(request.user, members)
    rooms = [
        {"member": m, "title": services.room_title(m, partners), "unread": m.unread}
        for m in members
    ]
    return render(
        request,
        "messenger/index.html",
        {
            "rooms": rooms,
            "can_create": request.user.is_teacher or request.user.is_school_admin,
        },
    )


@require_GET
@school_member_required
def direct_search(request: HttpRequest) -> HttpResponse:
    people = services.direct_candidates(request.user, request.GET.get("q", ""))
    return render(request, "messenger/_direct_results.html", {"people": people})


@require_POST
@school_member_required
def direct_open(request: HttpRequest, user_id: int) -> HttpResponse:
    other = get_object_or_404(User.objects.for_school(request.user.school_id), pk=user_id)
    try:
        room = services.open_direct(request.user, other)
    except MessengerError as error:
        messages.error(request, error.message)
        return redirect("messenger:index")
    return redirect("messenger:room", room.pk)


class RoomForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    groups = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Members: these classes and groups"),
        queryset=Group.unscoped.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    read_only = forms.BooleanField(
        label=gettext_lazy("Announcements only (only moderators write)"), required=False
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["groups"].queryset = access.groups_for_teaching(user)


@school_member_required
def room_create(request: HttpRequest) -> HttpResponse:
    if not (request.user.is_teacher or request.user.is_school_admin):
        raise Http404
    form = RoomForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        room = services.create_room(
            request.user,
            form.cleaned_data["name"],
            list(form.cleaned_data["groups"]),
            form.cleaned_data["read_only"],
        )
        return redirect("messenger:room", room.pk)
    return render(request, "messenger/room_form.html", {"form": form})


@school_member_required
def room(request: HttpRequest, pk: int) -> HttpResponse:
    member = services.member_of(request.user, pk)
    partners = services.direct_partner_names(request.user, [member])
    return render(
        request,
        "messenger/room.html",
        {
            "member": member,
            "room": member.room,
            "title": services.room_title(member, partners),
            "strings_script": _strings_script(get_language()),
            "realtime_url": realtime_url(request),
            "resync_seconds": _resync_seconds(),
            "max_length": services.MAX_MESSAGE_LENGTH,
            "can_write": member.is_moderator or not (member.room.read_only or member.muted),
        },
    )


@lru_cache(maxsize=16)
def _strings_script(language: str | None) -> str:
    """The room script's labels as a JSON script element, built once per language:
    fifteen translations and a JSON dump that every room page carried."""
    strings = {
        "sending": _("Sending…"),
        "failed": _("Not sent."),
        "retry": _("Send again"),
        "edit": _("Edit"),
        "save": _("Save"),
        "cancel": _("Cancel"),
        "delete": _("Delete"),
        "confirmDelete": _("Delete this message?"),
        "deleted": _("This message was deleted."),
        "edited": _("edited"),
        "you": _("You"),
        "offline": _("No live connection. New messages are fetched every few seconds."),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "readOnly": _("Only moderators may write in this room."),
        "error": _("Something went wrong. Please try again."),
    }
    return json_script(strings, "chat-strings")


@school_member_required
@require_POST
def room_notifications(request: HttpRequest, pk: int) -> HttpResponse:
    """Mute or unmute notifications of this room for oneself."""
    member = services.set_notifications_off(request.user, pk, request.POST.get("off") == "1")
    messages.success(
        request,
        _("No notifications for new messages in this room.")
        if member.notifications_off
        else _("You are notified of new messages in this room again."),
    )
    return redirect("messenger:room", pk)


def _resync_seconds() -> int | None:
    """With the in-process channel layer (embedded default) the page server cannot reach
    the sockets in the ASGI process, so open chats also catch up now and then."""
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    return 20 if backend.endswith("InMemoryChannelLayer") else None


@require_GET
@school_member_required
def room_messages(request: HttpRequest, pk: int) -> JsonResponse:
    """?after=ID[&since=TIME]: everything newer, oldest first, and older messages changed
    since TIME (catch-up); else newest first, paged with ?before=ID (history). Both say
    the server's time as "now", the client's next `since`."""
    member = services.member_of(request.user, pk)
    try:
        after = request.GET.get("after")
        if after is not None:
            return JsonResponse(
                services.catch_up(member, parse_id(after), request.GET.get("since"))
            )
        now = timezone.now()
        before = request.GET.get("before")
        found, more = services.messages_before(member, parse_id(before) if before else None)
    except ValueError:
        return JsonResponse({"error": "bad_request"}, status=400)
    return JsonResponse({"messages": found, "more": more, "now": now.isoformat()})


def _json_body(request: HttpRequest) -> dict:
    """The JSON object body, or the form fields; JSONBodyError for hostile JSON."""
    if request.content_type == "application/json":
        return jsonbody.request_object(request)
    return request.POST.dict()


def _bad_request(request: HttpRequest) -> HttpResponse:
    error = MessengerError("bad_request", _("The message could not be read."))
    return refusal_response(request, error, json=True)


@require_POST
@school_member_required
def room_send(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        body = _json_body(request)
        attachment = body.get("attachment")
        sent = services.send_message(
            request.user,
            pk,
            str(body.get("text", "")),
            str(body.get("key", "")),
            parse_id(attachment) if attachment not in (None, "") else None,
        )
    except MessengerError as error:
        return refusal_response(request, error, json=True)
    except ValueError:  # also hostile JSON
        return _bad_request(request)
    if sent.created:
        services.broadcast_on_commit(
            [services.room_group(pk)], {"type": "message", "message": sent.message}
        )
    return JsonResponse({"message": sent.message}, status=201 if sent.created else 200)


@require_POST
@school_member_required
def room_read(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        upto = parse_id(_json_body(request).get("upto", 0))
    except ValueError:
        return _bad_request(request)
    return JsonResponse({"upto": services.mark_read(request.user, pk, upto)})


@require_POST
@school_member_required
def message_edit(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        payload = services.edit_message(request.user, pk, str(_json_body(request).get("text", "")))
    except MessengerError as error:
        return refusal_response(request, error, json=True)
    except ValueError:
        return _bad_request(request)
    return JsonResponse({"message": payload})


@require_POST
@school_member_required
def message_delete(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        payload = services.delete_message(request.user, pk)
    except MessengerError as error:
        return refusal_response(request, error, json=True)
    return JsonResponse({"message": payload})


@require_GET
@school_member_required
def room_search(request: HttpRequest, pk: int) -> HttpResponse:
    member = services.member_of(request.user, pk)
    query = request.GET.get("q", "")
    return render(
        request,
        "messenger/_search_results.html",
        {
            "query": query,
            "results": services.search(member, query),
            "limit": services.SEARCH_LIMIT,
        },
    )


@school_member_required
def room_members(request: HttpRequest, pk: int) -> HttpResponse:
    """Moderation: read-only switch and muting, for the room's moderators."""
    member = services.member_of(request.user, pk)
    if not member.is_moderator or member.room.kind == Room.Kind.DIRECT:
        raise Http404
    if request.method == "POST":
        try:
            if "read_only" in request.POST:
                services.set_read_only(request.user, pk, request.POST["read_only"] == "1")
            elif "mute" in request.POST:
                target = services.set_muted(
                    request.user,
                    pk,
                    parse_id(request.POST["mute"]),
                    request.POST.get("muted") == "1",
                )
                messages.success(
                    request,
                    _("%(name)s is now muted.") % {"name": target.user}
                    if target.muted
                    else _("%(name)s may write again.") % {"name": target.user},
                )
        except (ValueError, MessengerError) as error:
            messages.error(request, getattr(error, "message", _("Something went wrong.")))
        return redirect("messenger:members", pk)
    members = (
        RoomMember.objects.for_school(request.user.school_id)
        .filter(room_id=pk)
        .select_related("user")
        .order_by("-role", "user__last_name")
    )
    return render(
        request,
        "messenger/members.html",
        {
            "room": member.room,
            "members": members,
        },
    )


@require_GET
@school_member_required
def attachment(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(
        Attachment.objects.for_school(request.user.school_id).select_related("blob"), pk=pk
    )
    # Only members of the attachment's room, and only once it was sent (or by its uploader).
    services.member_of(request.user, found.room_id)
    if found.uploader_id != request.user.pk and not hasattr(found, "message"):
        raise Http404
    if hasattr(found, "message") and found.message.deleted_at is not None:
        raise Http404
    return blob_response(found.blob, found.filename)
