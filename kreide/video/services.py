"""Video lessons: placement on media servers, atomic admission, waiting queue, teacher controls.

Admission is decided inside one transaction that locks the media server's row
(`select_for_update`; SQLite's IMMEDIATE transactions serialise the same way), so a wave of
simultaneous joins can never admit more participants than the server carries. Janus learns
about an admitted participant only afterwards, by getting the participant's join token.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from kreide.accounts.models import User
from kreide.core import audit, fragments, pagecache
from kreide.core.errors import Refusal
from kreide.core.prepared import PreparedQuery
from kreide.schedule.services import start_time_for
from kreide.schools import access
from kreide.schools.models import Group, Membership
from kreide.video import events, janus
from kreide.video.models import Admission, ChatMessage, MediaServer, VideoLesson

logger = logging.getLogger(__name__)

HEALTH_KEY = "video:health"
CHAT_PAGE = 50
# The form offers up to four hours; the day's list relies on no lesson being longer.
LONGEST_LESSON_MINUTES = 240
LONGEST_LESSON = timedelta(minutes=LONGEST_LESSON_MINUTES)


def _stale_after() -> timedelta:
    """An admission not heard of for this long no longer counts as load."""
    return timedelta(seconds=settings.VIDEO_STALE_SECONDS)


audit.declare(
    {
        "video.lesson_ended": gettext_lazy("Video lesson ended"),
        "video.lesson_restarted": gettext_lazy("Video lesson moved to another media server"),
        "video.participant_removed": gettext_lazy("Removed from a video lesson"),
        "video.muted_all": gettext_lazy("Everyone muted in a video lesson"),
    }
)


class VideoRefusal(Refusal):
    """A refusal of the video module; subclasses carry their default message."""

    default: str = ""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or _(self.default))


class VideoUnavailable(VideoRefusal):
    """No healthy media server can take this lesson now."""

    status, code, retry_after = 503, "video_unavailable", 60
    default = gettext_noop("Video is not available right now.")


class LessonEnded(VideoRefusal):
    status, code = 410, "lesson_ended"
    default = gettext_noop("The lesson has ended.")


class ServerLost(VideoRefusal):
    """The lesson's media server failed; a teacher can restart the lesson elsewhere."""

    status, code, retry_after = 503, "server_lost", 30
    default = gettext_noop("The media server of this lesson failed.")


@dataclass(frozen=True)
class Decision:
    state: str  # "admitted" or "waiting"
    admission: Admission
    position: int | None = None
    join_at: datetime | None = None

    @property
    def retry_after(self) -> int:
        if self.join_at is None:
            return 0
        return max(1, int((self.join_at - timezone.now()).total_seconds()))


# --- Permissions ------------------------------------------------------------------------


def lesson_roles(user: User, lesson: VideoLesson) -> tuple[bool, bool]:
    """(may join, may manage) in one query: members of its (active) group join; the
    lesson's teacher, teachers of its group and admins of its school manage."""
    if not access.participates(user) or user.school_id != lesson.school_id:
        return False, False
    role = access.group_role(user, lesson.group_id)
    own = user.pk == lesson.teacher_id
    admin = access.is_admin_of(user, lesson.school_id)
    return (own or role is not None, own or admin or role == access.TEACHER)


def can_manage(user: User, lesson: VideoLesson) -> bool:
    return lesson_roles(user, lesson)[1]


def may_join(user: User, lesson: VideoLesson) -> bool:
    return lesson_roles(user, lesson)[0]


def lessons_for(user: User, *, joinable: bool = False):
    """The lessons of the user's classes and groups (or, for admins, of the whole school
    unless only `joinable` ones are asked for)."""
    lessons = VideoLesson.objects.for_school(user.school_id).select_related("group", "teacher")
    if user.is_school_admin and not joinable:
        return lessons
    return lessons.filter(Q(group__in=access.group_ids(user)) | Q(teacher=user))


# --- Today's lessons, cached -----------------------------------------------------------
# Every student's dashboard shows today's lessons of their groups. A group's lessons of a
# day are one fragment, shared by the class; a teacher's own lessons another. Which rows
# feed them is declared in VideoConfig.ready() (a lesson; its group, whose name it shows),
# so every write bumps them, from here or from anywhere else.


def group_lessons_scope(group_id: int) -> str:
    return f"group:{group_id}:video"


def teacher_lessons_scope(user_id: int) -> str:
    return f"user:{user_id}:video"


def lesson_scopes(lesson: VideoLesson) -> list[str]:
    return [group_lessons_scope(lesson.group_id), teacher_lessons_scope(lesson.teacher_id)]


def _lessons_between(school_id: int, earliest: datetime, start: datetime, end: datetime):
    # Every lesson running between start and end, also one begun before start (23:30 to
    # 00:30 stays on the new day's list until it ends); `earliest` (start less the longest
    # lesson) lets the (group, starts_at) index bound the rows from both sides.
    # Cached for every student of the class: never with the room's secret.
    return (
        VideoLesson.objects.for_school(school_id)
        .filter(starts_at__gte=earliest, starts_at__lt=end, ends_at__gt=start)
        .select_related("group")
        .defer("room_secret")
        .order_by("starts_at", "pk")
    )


# A day's lessons for lessons_of_day(), the SQL built once per process (and group count).
_GROUPS_LESSONS = PreparedQuery(
    lambda school_id, earliest, start, end, group_ids: _lessons_between(
        school_id, earliest, start, end
    ).filter(group_id__in=group_ids)
)
_OWN_LESSONS = PreparedQuery(
    lambda school_id, earliest, start, end, teacher_id: _lessons_between(
        school_id, earliest, start, end
    ).filter(teacher_id=teacher_id)
)


DAY_SECONDS = 600  # how long lessons_of_day()'s fragments are cached


def _day_names(user: User, group_ids, day_start: datetime) -> dict[str, int | None]:
    """lessons_of_day()'s fragments, each with its group id (None: the user's own lessons)."""
    date = day_start.date().isoformat()
    names: dict[str, int | None] = {
        f"video:{user.school_id}:group:{group_id}:{date}": group_id for group_id in group_ids
    }
    names[_own_day_name(user, date)] = None
    return names


def _own_day_name(user: User, date: str) -> str:
    return f"video:{user.school_id}:teacher:{user.pk}:{date}"


def _day(school_id: int, day_start: datetime) -> tuple:
    """The first arguments of the day's queries: the lessons running that day."""
    return (school_id, day_start - LONGEST_LESSON, day_start, day_start + timedelta(days=1))


def own_day_query(user: User, day_start: datetime) -> tuple[str, PreparedQuery, tuple]:
    """The fragment of lessons_of_day() with the lessons `user` teaches, and the query
    and arguments that compute it (as a list)."""
    name = _own_day_name(user, day_start.date().isoformat())
    return name, _OWN_LESSONS, (*_day(user.school_id, day_start), user.pk)


def day_fragments(user: User, group_ids, day_start: datetime) -> dict[str, list[str]]:
    """The fragments (name → scopes) lessons_of_day(user, group_ids, day_start) reads."""
    return {
        name: [
            teacher_lessons_scope(user.pk) if group_id is None else group_lessons_scope(group_id)
        ]
        for name, group_id in _day_names(user, group_ids, day_start).items()
    }


def lessons_of_day(user: User, group_ids, day_start: datetime) -> list[VideoLesson]:
    """What `lessons_for(user, joinable=True)` finds running on the day from `day_start`
    (local midnight; one begun the evening before among them), sorted by start, from the
    fragment cache; `group_ids` are all the user's groups. Status and end are for the
    caller to check at reading time."""
    school_id = user.school_id
    names = _day_names(user, group_ids, day_start)

    def load(missing: list[str]) -> dict[str, list[VideoLesson]]:
        # One query for the missing groups, one for the user's own lessons.
        day = _day(school_id, day_start)
        values: dict[str, list[VideoLesson]] = {}
        groups = {names[name]: name for name in missing if names[name] is not None}
        if groups:
            values.update((name, []) for name in groups.values())
            for lesson in _GROUPS_LESSONS.list(*day, list(groups)):
                values[groups[lesson.group_id]].append(lesson)
        for name in missing:
            if names[name] is None:
                values[name] = _OWN_LESSONS.list(*day, user.pk)
        return values

    found: dict[int, VideoLesson] = {}
    scopes = day_fragments(user, group_ids, day_start)
    for lessons in fragments.cached_many(scopes, load, timeout=DAY_SECONDS).values():
        found.update((lesson.pk, lesson) for lesson in lessons)
    return sorted(found.values(), key=lambda lesson: (lesson.starts_at, lesson.pk))


# --- Lessons --------------------------------------------------------------------------


def create_lesson(
    actor: User,
    *,
    group: Group,
    title: str,
    starts_at: datetime | None,
    minutes: int,
    classroom_mode: bool = True,
    join_opens_at: datetime | None = None,
) -> VideoLesson:
    """Schedule a lesson, or (without `starts_at`) start it right away."""
    if not 0 < minutes <= LONGEST_LESSON_MINUTES:
        raise ValueError(f"a lesson lasts 1 to {LONGEST_LESSON_MINUTES} minutes, not {minutes}")
    if not access.groups_for_teaching(actor).filter(pk=group.pk).exists():
        raise PermissionDenied
    now = timezone.now()
    starts_at = starts_at or now
    lesson = VideoLesson.objects.for_school(group.school_id).create(
        group=group,
        teacher=actor,
        title=title,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        join_opens_at=join_opens_at or starts_at,
        classroom_mode=classroom_mode,
    )
    if starts_at <= now:
        lesson = open_room(lesson)
    return lesson


def server_loads() -> dict[int, int]:
    """Participants each server carries now: its admitted, recently seen admissions."""
    rows = (
        Admission.unscoped.filter(
            state=Admission.State.ADMITTED, last_seen__gte=timezone.now() - _stale_after()
        )
        .values("server_id")
        .annotate(n=Count("pk"))
    )
    return {row["server_id"]: row["n"] for row in rows}


def pick_server(exclude: int | None = None) -> MediaServer | None:
    """The least-loaded (relative to capacity) healthy server."""
    loads = server_loads()
    candidates = [
        s
        for s in MediaServer.objects.filter(enabled=True, healthy=True)
        if s.pk != exclude and loads.get(s.pk, 0) < s.capacity
    ]
    if not candidates:
        return None
    return min(candidates, key=lambda s: (loads.get(s.pk, 0) / s.capacity, s.pk))


def open_room(
    lesson: VideoLesson, *, exclude_server: int | None = None, lost_room: int | None = None
) -> VideoLesson:
    """Make sure the lesson has a room on a healthy server (creating it if needed).

    `lost_room`: the server answered that this room does not exist (Janus restarted):
    make a new one on the same server, unless another request already did.
    """
    if lesson.status == VideoLesson.Status.ENDED:
        raise LessonEnded
    if lesson.room_id and lesson.server_id and lost_room is None:
        if lesson.server.healthy:
            return lesson
        raise ServerLost
    # The lesson row stays locked while its room is created, so a wave of first joins
    # creates one room, not one per request.
    with transaction.atomic():
        locked = (
            VideoLesson.objects.for_school(lesson.school_id).select_for_update().get(pk=lesson.pk)
        )
        if locked.room_id and locked.room_id != lost_room:
            return locked
        server = locked.server if lost_room else pick_server(exclude=exclude_server)
        if server is None:
            raise VideoUnavailable
        room, secret = secrets.randbits(52), secrets.token_urlsafe(24)  # 52 bits: exact in JS
        members = (
            Membership.objects.for_school(lesson.school_id).filter(group=lesson.group_id).count()
        )
        try:
            janus.create_room(
                server.url,
                room=room,
                secret=secret,
                admin_key=server.admin_key,
                description=lesson.title,
                publishers=min(members + 2, server.capacity),
                bitrate=lesson.bitrate,
            )
        except janus.JanusError as error:
            failure = error
        else:
            started = locked.status == VideoLesson.Status.SCHEDULED
            locked.server, locked.room_id, locked.room_secret = server, room, secret
            locked.status = VideoLesson.Status.LIVE
            locked.save(update_fields=["server", "room_id", "room_secret", "status"])
            if started:  # not a room made again after a lost server
                events.lesson_started.publish(lesson_id=locked.pk)
            return locked
    mark_unhealthy(server, str(failure))  # outside the rolled-back transaction
    raise VideoUnavailable from failure


def _destroy_quietly(server: MediaServer, room: int, secret: str) -> None:
    try:
        janus.destroy_room(server.url, room=room, secret=secret)
    except janus.JanusError:
        logger.warning("could not destroy room", extra={"server": server.url, "room": room})


def end_lesson(actor: User, lesson: VideoLesson) -> None:
    if not can_manage(actor, lesson):
        raise PermissionDenied
    if lesson.server_id and lesson.room_id:
        _destroy_quietly(lesson.server, lesson.room_id, lesson.room_secret)
    with transaction.atomic():
        VideoLesson.objects.for_school(lesson.school_id).filter(pk=lesson.pk).update(
            status=VideoLesson.Status.ENDED, ended_at=timezone.now()
        )
        lesson.admissions.filter(
            state__in=[Admission.State.ADMITTED, Admission.State.WAITING]
        ).update(state=Admission.State.LEFT)
        audit.record(lesson.school_id, actor, "video.lesson_ended", lesson)
    lesson.refresh_from_db()


def restart_lesson(actor: User, lesson: VideoLesson) -> VideoLesson:
    """Move a lesson whose server failed to another healthy server (new room, new tokens)."""
    if not can_manage(actor, lesson):
        raise PermissionDenied
    lost = lesson.server_id
    with transaction.atomic():
        VideoLesson.objects.for_school(lesson.school_id).filter(pk=lesson.pk).update(
            server=None, room_id=None, room_secret="", status=VideoLesson.Status.SCHEDULED
        )
        lesson.admissions.filter(state=Admission.State.ADMITTED).update(
            state=Admission.State.LEFT, server=None, token=""
        )
        audit.record(lesson.school_id, actor, "video.lesson_restarted", lesson, lost_server=lost)
    lesson.refresh_from_db()
    return open_room(lesson, exclude_server=lost)


# --- Admission ------------------------------------------------------------------------


def admit(user: User, lesson: VideoLesson) -> Decision:
    """Let the user in if the lesson's server can carry one more participant, else queue.

    Raises PermissionDenied (not a member, removed), LessonEnded, VideoUnavailable or
    ServerLost. Every running lesson on a server keeps one place for its teacher until
    the teacher is in; teachers skip the queue (but never the capacity).
    """
    joining, managing = lesson_roles(user, lesson)
    if not joining:
        raise PermissionDenied
    if lesson.status == VideoLesson.Status.ENDED:
        raise LessonEnded
    now = timezone.now()
    if not managing:
        opens = join_opens_for(lesson, start_time_for(user, timezone.localdate(lesson.starts_at)))
        if now < opens:
            admission = _waiting(user, lesson, None, join_at=opens)
            return Decision("waiting", admission, None, opens)
    lesson = open_room(lesson)
    with transaction.atomic():
        server = MediaServer.objects.select_for_update().get(pk=lesson.server_id)
        now = timezone.now()  # after the lock: queue order is the order of admission
        admission = _lock_admission(user, lesson, now)
        if admission.state == Admission.State.REMOVED:
            raise PermissionDenied
        decision = _decide(admission, server, managing, now)
    if decision.state == "admitted":
        _hand_out_token(lesson, decision.admission)
    return decision


def join_opens_for(lesson: VideoLesson, day_starts: time | None) -> datetime:
    """When a participant whose day starts at `day_starts` (kreide.schedule's staggered
    start, None: no window) may join: the lesson's join window, but not before their class
    starts — a class starting at 8:05 joins at 8:05, which is what staggering is for."""
    if day_starts is None:
        return lesson.join_opens_at
    day = timezone.localdate(lesson.starts_at)
    return max(lesson.join_opens_at, timezone.make_aware(datetime.combine(day, day_starts)))


def _decide(admission: Admission, server: MediaServer, managing: bool, now: datetime) -> Decision:
    """Admit or queue, with the server row locked by the caller."""
    fresh_since = now - _stale_after()
    if (
        admission.state == Admission.State.ADMITTED
        and admission.last_seen >= fresh_since
        and admission.server_id == server.pk
    ):  # back after a reload or a network drop: still in
        admission.last_seen = now
        admission.save(update_fields=["last_seen"])
        return Decision("admitted", admission)
    if admission.state != Admission.State.WAITING or admission.server_id != server.pk:
        admission.queued_at = now  # a new arrival, or back after dropping out
    load = Admission.unscoped.filter(
        server=server, state=Admission.State.ADMITTED, last_seen__gte=fresh_since
    ).count()
    ahead = (
        0
        if managing
        else Admission.unscoped.filter(
            Q(queued_at__lt=admission.queued_at)
            | Q(queued_at=admission.queued_at, pk__lt=admission.pk),
            server=server,
            state=Admission.State.WAITING,
            last_seen__gte=fresh_since,
        )
        .exclude(pk=admission.pk)
        .count()
    )
    teacher_in = Admission.unscoped.filter(
        lesson=OuterRef("pk"),
        user=OuterRef("teacher"),
        state=Admission.State.ADMITTED,
        last_seen__gte=fresh_since,
    )
    teachers_missing = (
        VideoLesson.unscoped.filter(server=server, status=VideoLesson.Status.LIVE)
        .exclude(Exists(teacher_in))
        .count()
    )
    # A teacher may take one reserved place (their own); students none.
    free = server.capacity - load - (max(0, teachers_missing - 1) if managing else teachers_missing)
    admission.server, admission.last_seen = server, now
    if ahead < free:
        admission.state, admission.admitted_at, admission.join_at = (
            Admission.State.ADMITTED,
            now,
            None,
        )
        admission.token = admission.token or secrets.token_urlsafe(24)
        admission.save()
        return Decision("admitted", admission)
    admission.state = Admission.State.WAITING
    admission.join_at = now + timedelta(
        seconds=min(300, settings.VIDEO_ADMIT_PACE_SECONDS * (ahead - free + 1))
    )
    admission.save()
    return Decision("waiting", admission, ahead + 1, admission.join_at)


def _hand_out_token(lesson: VideoLesson, admission: Admission) -> None:
    """Put the participant's token on the room's allowed list (after commit, outside the
    lock). A room Janus no longer knows (it restarted) is created again on the same server."""
    server = lesson.server
    try:
        try:
            janus.allow(
                server.url, room=lesson.room_id, secret=lesson.room_secret, tokens=[admission.token]
            )
        except janus.JanusError as error:
            if "426" not in str(error):  # 426: no such room
                raise
            lesson = open_room(lesson, lost_room=lesson.room_id)
            janus.allow(
                server.url, room=lesson.room_id, secret=lesson.room_secret, tokens=[admission.token]
            )
    except (janus.JanusError, VideoUnavailable) as error:
        Admission.unscoped.filter(pk=admission.pk).update(state=Admission.State.LEFT)
        mark_unhealthy(server, str(error))
        raise ServerLost from error


def _lock_admission(user: User, lesson: VideoLesson, now: datetime) -> Admission:
    admission, _created = (
        Admission.objects.for_school(lesson.school_id)
        .select_for_update()
        .get_or_create(
            lesson=lesson,
            user=user,
            defaults={"school_id": lesson.school_id, "queued_at": now, "last_seen": now},
        )
    )
    return admission


def _waiting(
    user: User, lesson: VideoLesson, server: MediaServer | None, join_at: datetime
) -> Admission:
    now = timezone.now()
    with transaction.atomic():
        admission = _lock_admission(user, lesson, now)
        if admission.state == Admission.State.REMOVED:
            raise PermissionDenied
        admission.state, admission.join_at, admission.last_seen = (
            Admission.State.WAITING,
            join_at,
            now,
        )
        admission.save(update_fields=["state", "join_at", "last_seen"])
    return admission


def current_admission(user: User, lesson: VideoLesson) -> Admission | None:
    """The user's admission if it is admitted and fresh on the lesson's current server."""
    return lesson.admissions.filter(
        user=user,
        state=Admission.State.ADMITTED,
        server_id=lesson.server_id,
        last_seen__gte=timezone.now() - _stale_after(),
    ).first()


def leave(user: User, lesson: VideoLesson) -> None:
    lesson.admissions.filter(
        user=user, state__in=[Admission.State.ADMITTED, Admission.State.WAITING]
    ).update(state=Admission.State.LEFT, hand_raised_at=None)


# --- In the lesson --------------------------------------------------------------------


def lesson_state(user: User, lesson: VideoLesson, after_chat: int) -> dict:
    """What the lesson page polls: a fixed number of queries, and it is the heartbeat."""
    now = timezone.now()
    me = lesson.admissions.filter(user=user).first()
    if me is not None and me.state == Admission.State.ADMITTED:
        Admission.unscoped.filter(pk=me.pk).update(last_seen=now)
    people = (
        lesson.admissions.filter(
            state=Admission.State.ADMITTED, last_seen__gte=now - _stale_after()
        )
        .select_related("user")
        .order_by("user__last_name", "user__first_name")
    )
    messages = (
        ChatMessage.objects.for_school(lesson.school_id)
        .filter(lesson=lesson, pk__gt=after_chat)
        .select_related("author")
        .order_by("-pk")[:CHAT_PAGE]
    )
    server_lost = bool(lesson.server_id) and not lesson.server.healthy
    return {
        "status": lesson.status,
        "server_lost": server_lost,
        "mute_all": lesson.mute_all_seq,
        "me": {
            "state": me.state if me else None,
            "video_allowed": bool(
                me
                and (
                    me.video_allowed or not lesson.classroom_mode or me.user_id == lesson.teacher_id
                )
            ),
            "hand": bool(me and me.hand_raised_at),
        },
        "participants": [
            {
                "id": a.janus_id,
                "name": a.user.get_full_name() or a.user.username,
                "teacher": a.user_id == lesson.teacher_id,
                "hand": a.hand_raised_at is not None,
                "video": a.video_allowed,
            }
            for a in people
        ],
        "chat": [
            {
                "id": m.pk,
                "author": m.author.get_full_name() or m.author.username,
                "text": m.text,
                "time": timezone.localtime(m.created_at).strftime("%H:%M"),
            }
            for m in reversed(messages)
        ],
    }


def post_chat(user: User, lesson: VideoLesson, text: str) -> ChatMessage:
    if current_admission(user, lesson) is None:
        raise PermissionDenied
    text = text.strip()
    if not text:
        raise VideoRefusal(_("The message is empty."))
    if len(text) > 1000:
        raise VideoRefusal(_("The message is too long (at most 1000 characters)."))
    return ChatMessage.objects.for_school(lesson.school_id).create(
        school_id=lesson.school_id, lesson=lesson, author=user, text=text
    )


def raise_hand(user: User, lesson: VideoLesson, raised: bool) -> None:
    lesson.admissions.filter(user=user, state=Admission.State.ADMITTED).update(
        hand_raised_at=timezone.now() if raised else None
    )


def _participant(actor: User, lesson: VideoLesson, participant_id: int) -> Admission:
    if not can_manage(actor, lesson):
        raise PermissionDenied
    admission = lesson.admissions.filter(pk=participant_id).first()
    if admission is None:
        raise PermissionDenied
    return admission


def call_on(actor: User, lesson: VideoLesson, participant_id: int, allowed: bool) -> None:
    """Let a student send video in classroom mode (and lower the hand), or take it back."""
    admission = _participant(actor, lesson, participant_id)
    Admission.unscoped.filter(pk=admission.pk).update(video_allowed=allowed, hand_raised_at=None)


def remove_participant(actor: User, lesson: VideoLesson, participant_id: int) -> None:
    admission = _participant(actor, lesson, participant_id)
    with transaction.atomic():
        Admission.unscoped.filter(pk=admission.pk).update(state=Admission.State.REMOVED)
        audit.record(
            lesson.school_id, actor, "video.participant_removed", lesson, user=admission.user_id
        )
    if lesson.server_id and lesson.room_id:
        try:
            if admission.token:
                janus.allow(
                    lesson.server.url,
                    room=lesson.room_id,
                    secret=lesson.room_secret,
                    tokens=[admission.token],
                    add=False,
                )
            janus.kick(
                lesson.server.url,
                room=lesson.room_id,
                secret=lesson.room_secret,
                participant=admission.janus_id,
            )
        except janus.JanusError as error:
            mark_unhealthy(lesson.server, str(error))


def mute_all(actor: User, lesson: VideoLesson) -> None:
    if not can_manage(actor, lesson):
        raise PermissionDenied
    with transaction.atomic():
        VideoLesson.objects.for_school(lesson.school_id).filter(pk=lesson.pk).update(
            mute_all_seq=F("mute_all_seq") + 1
        )
        audit.record(lesson.school_id, actor, "video.muted_all", lesson)


# --- Staggered join windows -----------------------------------------------------------


def propose_windows(
    lessons: list[VideoLesson], sizes: dict[int, int], per_window: int, step_minutes: int = 2
) -> list[tuple[VideoLesson, datetime]]:
    """Spread lessons starting together over join windows `step_minutes` apart.

    Each window admits at most `per_window` participants (whole classes stay together);
    lessons keep their order by start time and class name, so 7b comes before 7c.
    """
    proposals: list[tuple[VideoLesson, datetime]] = []
    ordered = sorted(lessons, key=lambda lesson: (lesson.starts_at, lesson.group.name))
    window, used = 0, 0
    for lesson in ordered:
        size = sizes.get(lesson.group_id, 0) + 1  # the teacher too
        if used and used + size > per_window:
            window, used = window + 1, 0
        used += size
        base = min(item.starts_at for item in ordered)
        proposals.append((lesson, base + timedelta(minutes=step_minutes * window)))
    return proposals


def wave(school_id: int, around: datetime, span_minutes: int = 10) -> list[VideoLesson]:
    """Lessons of a school starting within `span_minutes` of `around` (not ended)."""
    return list(
        VideoLesson.objects.for_school(school_id)
        .filter(
            starts_at__gte=around - timedelta(minutes=span_minutes),
            starts_at__lte=around + timedelta(minutes=span_minutes),
        )
        .exclude(status=VideoLesson.Status.ENDED)
        .select_related("group")
    )


def group_sizes(school_id: int, group_ids: list[int]) -> dict[int, int]:
    rows = (
        Membership.objects.for_school(school_id)
        .filter(group_id__in=group_ids)
        .values("group_id")
        .annotate(n=Count("pk"))
    )
    return {row["group_id"]: row["n"] for row in rows}


def join_rate_capacity() -> int:
    """Participants the healthy servers take per join window: a share of their capacity."""
    share = settings.VIDEO_JOIN_WINDOW_PERCENT
    total = sum(
        MediaServer.objects.filter(enabled=True, healthy=True).values_list("capacity", flat=True)
    )
    return max(1, total * share // 100)


@dataclass(frozen=True)
class Wave:
    around: datetime
    participants: int
    per_window: int


def next_overloaded_wave(user: User) -> Wave | None:
    """The user's next wave of lessons (within a day) if it exceeds what the servers take
    in one join window and its join windows are not staggered yet: time for a proposal."""
    now = timezone.now()
    upcoming = (
        lessons_for(user)
        .filter(starts_at__gte=now - timedelta(minutes=5), starts_at__lte=now + timedelta(days=1))
        .exclude(status=VideoLesson.Status.ENDED)
        .order_by("starts_at")
        .first()
    )
    if upcoming is None:
        return None
    lessons = wave(user.school_id, upcoming.starts_at)
    if len({lesson.join_opens_at for lesson in lessons}) > 1:
        return None  # already staggered
    sizes = group_sizes(user.school_id, [lesson.group_id for lesson in lessons])
    total = sum(sizes.get(lesson.group_id, 0) + 1 for lesson in lessons)
    per_window = join_rate_capacity()
    return Wave(upcoming.starts_at, total, per_window) if total > per_window else None


def set_join_window(actor: User, lesson: VideoLesson, opens_at: datetime) -> None:
    if not can_manage(actor, lesson):
        raise PermissionDenied
    VideoLesson.objects.for_school(lesson.school_id).filter(pk=lesson.pk).update(
        join_opens_at=opens_at
    )


# --- Media server health --------------------------------------------------------------


def sync_configured_servers() -> None:
    """Register the servers from KREIDE_JANUS_URLS: "API_URL|BROWSER_URL|CAPACITY|ADMIN_KEY"."""
    for entry in settings.JANUS_URLS:
        parts = [part.strip() for part in entry.split("|")]
        if len(parts) < 3 or not parts[2].isdigit():
            logger.error(
                "KREIDE_JANUS_URLS entry needs API_URL|BROWSER_URL|CAPACITY[|KEY]",
                extra={"entry": parts[0]},
            )
            continue
        api, public, capacity = parts[:3]
        MediaServer.objects.update_or_create(
            url=api.rstrip("/"),
            defaults={
                "name": api,
                "public_url": public,
                "capacity": int(capacity),
                "admin_key": parts[3] if len(parts) > 3 else "",
            },
        )


def check_servers() -> str:
    """Ask every enabled server for /info; store and cache the result. Returns the state."""
    now = timezone.now()
    for server in MediaServer.objects.filter(enabled=True):
        try:
            janus.info(server.url)
            healthy, error = True, ""
        except janus.JanusError as problem:
            healthy, error = False, str(problem)[:300]
        MediaServer.objects.filter(pk=server.pk).update(
            healthy=healthy, last_check=now, last_error=error
        )
    return _cache_state()


def mark_unhealthy(server: MediaServer, error: str) -> None:
    MediaServer.objects.filter(pk=server.pk).update(
        healthy=False, last_check=timezone.now(), last_error=error[:300]
    )
    server.healthy = False
    _cache_state()


def _cache_state() -> str:
    servers = MediaServer.objects.filter(enabled=True)
    if not servers.exists():
        state = "unconfigured"
    else:
        state = "ok" if servers.filter(healthy=True).exists() else "down"
    cache.set(HEALTH_KEY, {"state": state, "checked": timezone.now()}, timeout=None)
    return state


def cached_state(request: HttpRequest | None = None, *, keep: bool = False) -> str | None:
    """The last known state from the cache only ("ok", "down", "unconfigured" or None);
    with the page's request, from its one round trip (`pagecache`). `keep` leaves it there
    for the page's banner, which reads it after the dashboard's section."""
    if request is not None and keep:
        entry = pagecache.peek(request, HEALTH_KEY)
    else:
        entry = pagecache.take(request, HEALTH_KEY)
    return entry["state"] if entry else None


def fresh_state() -> str:
    """The state, re-checked when older than VIDEO_HEALTH_SECONDS (one checker at a time)."""
    entry = cache.get(HEALTH_KEY)
    if entry and timezone.now() - entry["checked"] < timedelta(
        seconds=settings.VIDEO_HEALTH_SECONDS
    ):
        return entry["state"]
    if cache.add("video:health-lock", 1, timeout=10):
        try:
            sync_configured_servers()
            return check_servers()
        finally:
            cache.delete("video:health-lock")
    return entry["state"] if entry else _cache_state()
