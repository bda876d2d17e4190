"""Video lesson pages, the admission API the waiting room polls, and teacher controls."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from kreide.core.errors import Refusal, refusal_response
from kreide.core.ids import parse_id
from kreide.core.widgets import DateTimeInput
from kreide.schools import access
from kreide.video import services
from kreide.video.models import VideoLesson

# Debian's libjs-janus-gateway / libjs-webrtc-adapter: janus.js must match the server's API
# version (Janus 1.1.2), which npm's janus-gateway (1.4.x) does not (see docs/video.md).
BROWSER_LIBRARIES = {
    "janus.js": Path("/usr/share/javascript/janus-gateway/janus.js"),
    "adapter.js": Path("/usr/share/javascript/webrtc-adapter/adapter.js"),
}


def _lesson(request: HttpRequest, pk: int) -> VideoLesson:
    """The lesson through the user's school: another school's lesson is a 404."""
    if request.user.school_id is None:
        raise Http404
    return get_object_or_404(
        VideoLesson.objects.for_school(request.user.school_id).select_related(
            "group", "teacher", "server"
        ),
        pk=pk,
    )


def _forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return refusal_response(request, Refusal(message, status=403, code="forbidden"), json=True)


class LessonForm(forms.Form):
    group = forms.ModelChoiceField(queryset=None, label=gettext_lazy("Class or group"))
    title = forms.CharField(max_length=200, label=gettext_lazy("Title"))
    start_now = forms.BooleanField(
        required=False, initial=True, label=gettext_lazy("Start right away")
    )
    starts_at = forms.DateTimeField(
        required=False,
        label=gettext_lazy("Starts at"),
        widget=DateTimeInput(),
    )
    minutes = forms.IntegerField(
        min_value=5,
        max_value=services.LONGEST_LESSON_MINUTES,
        initial=45,
        label=gettext_lazy("Duration (minutes)"),
    )
    classroom_mode = forms.BooleanField(
        required=False,
        initial=True,
        label=gettext_lazy("Classroom mode"),
        help_text=gettext_lazy("Only the teacher and students called on send video."),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = access.groups_for_teaching(user)

    def clean(self) -> dict:
        data = super().clean()
        if not data.get("start_now"):
            starts_at = data.get("starts_at")
            if starts_at is None:
                self.add_error("starts_at", _("Enter when the lesson starts, or start it now."))
            elif starts_at < timezone.now() - timedelta(minutes=5):
                self.add_error("starts_at", _("This time has already passed."))
        return data


def _from_slot(request: HttpRequest) -> dict:
    """The form filled in from a timetable slot (`?group=&title=&starts_at=&minutes=`)."""
    initial = {key: request.GET[key][:200] for key in ("group", "title") if key in request.GET}
    if request.GET.get("minutes", "").isdigit():
        initial["minutes"] = int(request.GET["minutes"])
    try:
        starts_at = datetime.fromisoformat(request.GET.get("starts_at", ""))
    except ValueError:
        return initial
    starts_at = timezone.make_aware(starts_at) if timezone.is_naive(starts_at) else starts_at
    initial["starts_at"] = starts_at
    # A slot that has begun, or begins in a moment, starts right away.
    initial["start_now"] = starts_at <= timezone.now() + timedelta(minutes=5)
    return initial


@login_required
def lesson_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.school_id is None:
        raise Http404
    state = services.fresh_state()
    # Only who has a class or group to teach gets the form (an empty choice leads nowhere),
    # and only where video exists at all.
    teaching = (
        state != "unconfigured"
        and (user.is_teacher or user.is_school_admin)
        and access.groups_for_teaching(user).exists()
    )
    form = (
        LessonForm(request.POST or None, user=user, initial=_from_slot(request))
        if teaching
        else None
    )
    if request.method == "POST":
        if form is None:
            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                lesson = services.create_lesson(
                    user,
                    group=data["group"],
                    title=data["title"],
                    starts_at=None if data["start_now"] else data["starts_at"],
                    minutes=data["minutes"],
                    classroom_mode=data["classroom_mode"],
                )
            except services.VideoUnavailable:
                messages.error(
                    request,
                    _(
                        "Video is not available right now: the lesson was "
                        "saved and opens when a media server is back."
                    ),
                )
                return redirect("video:list")
            if lesson.status == VideoLesson.Status.LIVE:
                return redirect("video:detail", pk=lesson.pk)
            messages.success(request, _("The video lesson is scheduled."))
            return redirect("video:list")
    now = timezone.now()
    lessons = list(
        services.lessons_for(user)
        .filter(ends_at__gte=now - timedelta(hours=1))
        .exclude(status=VideoLesson.Status.ENDED)
        .order_by("starts_at")[:50]
    )
    return render(
        request,
        "video/list.html",
        {
            "lessons": lessons,
            "form": form,
            "video_state": state,
            "now": now,
            "can_stagger": teaching,
            # Kreide proposes join windows by itself when the next wave is too big.
            "wave": services.next_overloaded_wave(user) if teaching else None,
        },
    )


@login_required
def lesson_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lesson = _lesson(request, pk)
    if not (services.may_join(request.user, lesson) or services.can_manage(request.user, lesson)):
        raise Http404
    return render(
        request,
        "video/detail.html",
        {
            "lesson": lesson,
            "video_state": services.fresh_state(),
            "manage": services.can_manage(request.user, lesson),
            "may_join": services.may_join(request.user, lesson),
            "server_lost": bool(lesson.server_id) and not lesson.server.healthy,
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def join(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Join" button: straight into the room when admitted, else the waiting room."""
    services.fresh_state()
    lesson = _lesson(request, pk)
    try:
        decision = services.admit(request.user, lesson)
    except PermissionDenied:
        raise Http404 from None
    except services.VideoRefusal:
        return redirect("video:detail", pk=pk)
    if decision.state == "admitted":
        return redirect("video:room", pk=pk)
    return redirect("video:waiting", pk=pk)


@login_required
@require_POST
@never_cache
def admit_api(request: HttpRequest, pk: int) -> JsonResponse:
    """The admission API: 200 admitted, 202 waiting (Retry-After), 4xx/503 otherwise."""
    services.fresh_state()  # a server that failed is looked at again (at most every 15 s)
    lesson = _lesson(request, pk)
    try:
        decision = services.admit(request.user, lesson)
    except PermissionDenied:
        return _forbidden(request, _("You do not belong to this lesson."))
    except services.VideoRefusal as refused:
        return refusal_response(request, refused, json=True)
    if decision.state == "admitted":
        return JsonResponse({"state": "admitted", "url": reverse("video:room", args=[pk])})
    response = JsonResponse(
        {
            "state": "waiting",
            "position": decision.position,
            "join_at": decision.join_at.isoformat() if decision.join_at else None,
            "join_time": time_format(timezone.localtime(decision.join_at), "H:i:s")
            if decision.join_at
            else "",
        },
        status=202,
    )
    response["Retry-After"] = str(decision.retry_after)
    return response


@login_required
@never_cache
def waiting(request: HttpRequest, pk: int) -> HttpResponse:
    lesson = _lesson(request, pk)
    if not services.may_join(request.user, lesson):
        raise Http404
    admission = lesson.admissions.filter(user=request.user).first()
    return render(request, "video/waiting.html", {"lesson": lesson, "admission": admission})


@login_required
@never_cache
def room(request: HttpRequest, pk: int) -> HttpResponse:
    lesson = _lesson(request, pk)
    admission = services.current_admission(request.user, lesson)
    if admission is None or lesson.status == VideoLesson.Status.ENDED:
        return redirect("video:detail", pk=pk)
    video = (
        not lesson.classroom_mode or admission.video_allowed or request.user.pk == lesson.teacher_id
    )
    response = render(
        request,
        "video/room.html",
        {
            "lesson": lesson,
            "admission": admission,
            "video": video,
            "manage": services.can_manage(request.user, lesson),
            "display": request.user.get_full_name() or request.user.username,
        },
    )
    # The browser talks to this lesson's Janus over WebSocket: allow exactly that origin.
    parts = urlsplit(lesson.server.public_url)
    response._csp_update = {"connect-src": [f"{parts.scheme}://{parts.netloc}"]}
    return response


@login_required
@require_GET
@never_cache
def state(request: HttpRequest, pk: int) -> JsonResponse:
    lesson = _lesson(request, pk)
    if not services.may_join(request.user, lesson):
        raise Http404
    try:
        after = parse_id(request.GET.get("after", "0"))
    except ValueError:
        after = 0
    return JsonResponse(services.lesson_state(request.user, lesson, after))


@login_required
@require_POST
def chat(request: HttpRequest, pk: int) -> JsonResponse:
    lesson = _lesson(request, pk)
    try:
        message = services.post_chat(request.user, lesson, request.POST.get("text", ""))
    except PermissionDenied:
        return _forbidden(request, _("You are not in this lesson."))
    except services.VideoRefusal as refused:
        return refusal_response(request, refused, json=True)
    return JsonResponse({"id": message.pk}, status=201)


@login_required
@require_POST
def hand(request: HttpRequest, pk: int) -> JsonResponse:
    lesson = _lesson(request, pk)
    services.raise_hand(request.user, lesson, request.POST.get("raised") == "1")
    return JsonResponse({"ok": True})


@login_required
@require_POST
def leave(request: HttpRequest, pk: int) -> HttpResponse:
    lesson = _lesson(request, pk)
    services.leave(request.user, lesson)
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": True})
    return redirect("video:list")


@login_required
@require_POST
def control(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Teacher controls: mute all, call on, remove, end, restart elsewhere."""
    lesson = _lesson(request, pk)
    user = request.user
    try:
        participant = parse_id(request.POST.get("participant", "0"))
    except ValueError:
        participant = 0
    try:
        if action == "mute-all":
            services.mute_all(user, lesson)
        elif action in ("call-on", "call-off"):
            services.call_on(user, lesson, participant, action == "call-on")
        elif action == "remove":
            services.remove_participant(user, lesson, participant)
        elif action == "end":
            services.end_lesson(user, lesson)
            messages.success(request, _("The lesson has ended."))
            return redirect("video:list")
        elif action == "restart":
            try:
                services.restart_lesson(user, lesson)
            except services.VideoUnavailable:
                messages.error(request, _("No other media server is available right now."))
                return redirect("video:detail", pk=pk)
            return redirect("video:detail", pk=pk)
        else:
            raise Http404
    except PermissionDenied:
        raise Http404 from None
    if request.headers.get("Accept", "").startswith("application/json"):
        return JsonResponse({"ok": True})
    return redirect("video:room", pk=pk)


@login_required
def stagger(request: HttpRequest) -> HttpResponse:
    """Join windows for a wave of lessons: Kreide proposes them, a teacher or admin applies."""
    user = request.user
    if user.school_id is None or not (user.is_teacher or user.is_school_admin):
        raise Http404
    try:
        around = (
            datetime.fromisoformat(request.GET.get("at", "")) if request.GET.get("at") else None
        )
    except ValueError:
        around = None
    if around is not None and timezone.is_naive(around):
        around = timezone.make_aware(around)
    if around is None:
        upcoming = (
            services.lessons_for(user)
            .filter(starts_at__gte=timezone.now() - timedelta(minutes=10))
            .exclude(status=VideoLesson.Status.ENDED)
            .order_by("starts_at")
            .first()
        )
        around = upcoming.starts_at if upcoming else timezone.now()
    lessons = [
        lesson
        for lesson in services.wave(user.school_id, around)
        if services.can_manage(user, lesson)
    ]
    sizes = services.group_sizes(user.school_id, [lesson.group_id for lesson in lessons])
    per_window = services.join_rate_capacity()
    proposals = services.propose_windows(lessons, sizes, per_window)
    if request.method == "POST":
        manual = request.POST.get("apply") == "manual"
        for lesson, opens in proposals:
            if manual:
                raw = request.POST.get(f"opens-{lesson.pk}", "")
                try:
                    opens = timezone.make_aware(datetime.fromisoformat(raw))
                except ValueError:
                    messages.error(request, _("%(value)s is not a time.") % {"value": raw})
                    return redirect(request.get_full_path())
            services.set_join_window(user, lesson, opens)
        messages.success(request, _("The join windows are saved."))
        return redirect(request.get_full_path())
    total = sum(sizes.get(lesson.group_id, 0) + 1 for lesson in lessons)
    return render(
        request,
        "video/stagger.html",
        {
            "rows": [
                {"lesson": lesson, "size": sizes.get(lesson.group_id, 0) + 1, "proposed": opens}
                for lesson, opens in proposals
            ],
            "total": total,
            "per_window": per_window,
            "exceeds": total > per_window,
            "around": around,
        },
    )


@require_GET
def browser_library(request: HttpRequest, name: str) -> FileResponse:
    path = BROWSER_LIBRARIES.get(name)
    if path is None or not path.exists():
        raise Http404
    response = FileResponse(path.open("rb"), content_type="text/javascript")
    response["Cache-Control"] = "public, max-age=86400"
    return response
