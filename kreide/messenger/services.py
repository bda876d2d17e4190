"""Messenger domain logic: who may read and write where, and every write.

The same functions serve the page views (WSGI) and the WebSocket consumer (ASGI, called
through `database_sync_to_async`). Live delivery happens only after the write committed:
HTTP writes call `broadcast_on_commit`, the consumer awaits its own group_send once the
service function (and with it the transaction) has returned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import nh3
from django.conf import settings
from django.core.cache import BaseCache, cache
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import urlize
from django.utils.translation import gettext_lazy as _

from kreide.accounts.models import User
from kreide.core import audit, fragments, live, pagecache
from kreide.core.cache import with_counters
from kreide.core.errors import Refusal
from kreide.core.prepared import PreparedQuery
from kreide.messenger import events
from kreide.messenger.models import Attachment, Message, Room, RoomMember
from kreide.schools import access
from kreide.schools.models import Group, Membership

audit.declare(
    {
        "messenger.message_removed": _("Message removed by a moderator"),
        "messenger.muted": _("Muted in a room"),
        "messenger.unmuted": _("No longer muted in a room"),
        "messenger.read_only": _("Room switched to announcements only or back"),
    }
)

MAX_MESSAGE_LENGTH = 4000
PAGE_SIZE = 50
SYNC_BATCH = 200
CHANGE_OVERLAP = timedelta(seconds=60)
SEARCH_LIMIT = 50
_CLIENT_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# Flood limit per user, shared by HTTP and WebSocket sends.


class MessengerError(Refusal):
    """A refused action; `message` is shown to the user, `code` tells clients what to do."""

    _STATUS = {
        "not_found": 404,
        "rate_limited": 429,
        "too_long": 400,
        "empty": 400,
        "bad_request": 400,
        "bad_attachment": 400,
    }

    def __init__(self, code: str, message: Any) -> None:
        super().__init__(message, code=code, status=self._STATUS.get(code, 403))


class NotFound(MessengerError):
    def __init__(self) -> None:
        super().__init__("not_found", _("This room or message does not exist."))


# --- groups on the channel layer --------------------------------------------------------
def room_group(room_id: int) -> str:
    return f"messenger.room.{room_id}"


def user_group(user_id: int) -> str:
    return f"messenger.user.{user_id}"


def channel_event(event: dict) -> dict:
    """Wrap a client event for group_send, serialized once for every receiver."""
    if event["type"] == "rooms":
        return {"type": "messenger.event", "rooms": True}
    return {"type": "messenger.event", "text": json.dumps(event, separators=(",", ":"))}


def _send_now(groups: list[str], event: dict) -> None:
    message = channel_event(event)
    live.send([(name, message) for name in groups])


def broadcast_on_commit(groups: list[str], event: dict) -> None:
    transaction.on_commit(lambda: _send_now(groups, event))


# --- rendering ---------------------------------------------------------------------------
def render_text(text: str) -> str:
    """Plain text to safe HTML: escaped, links clickable, line breaks kept."""
    linked = urlize(text, nofollow=True, autoescape=True).replace("\n", "<br>")
    return nh3.clean(
        linked,
        tags={"a", "br"},
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener nofollow",
    )


def serialize(message: Message) -> dict[str, Any]:
    """The JSON shape every client renders (socket events, catch-up, history)."""
    deleted = message.deleted_at is not None
    attachment = None
    if message.attachment_id and not deleted:
        attachment = {
            "name": message.attachment.filename,
            "size": message.attachment.blob.size,
            "url": reverse("messenger:attachment", args=[message.attachment_id]),
        }
    return {
        "id": message.pk,
        "room": message.room_id,
        "author": {"id": message.author_id, "name": str(message.author)},
        "key": message.client_key,
        "html": "" if deleted else render_text(message.body),
        "text": "" if deleted else message.body,
        "attachment": attachment,
        "created": message.created_at.isoformat(),
        "edited": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": deleted,
    }


def _with_related(queryset):
    return queryset.select_related("author", "attachment__blob")


# --- reading -----------------------------------------------------------------------------
def member_of(user: User, room_id: int) -> RoomMember:
    """The user's membership in the room (with the room), or NotFound — also for rooms of
    another school, so their existence is never revealed."""
    if not user.is_authenticated or user.school_id is None:
        raise NotFound()
    found = _MEMBER_OF.list(user.school_id, int(room_id), user.pk)
    if not found:
        raise NotFound()
    return found[0]


# member_of's and rooms_for's queries (every room page, the dashboard), built once.
_MEMBER_OF = PreparedQuery(
    lambda school_id, room_id, user_id: (
        RoomMember.objects.for_school(school_id)
        .select_related("room")
        .filter(room_id=room_id, user_id=user_id)
        .order_by("pk")[:1]
    )
)


def _rooms_for(school_id: int, user_id: int):
    messages = Message.objects.for_school(school_id).filter(room=OuterRef("room_id"))
    unread = (
        messages.filter(id__gt=OuterRef("last_read_id"), deleted_at__isnull=True)
        .exclude(author_id=user_id)
        .order_by()
        .values("room")
        .annotate(n=Count("id"))
        .values("n")
    )
    return (
        RoomMember.objects.for_school(school_id)
        .filter(user_id=user_id)
        .select_related("room")
        .annotate(
            unread=Coalesce(Subquery(unread), 0),
            latest_id=Subquery(messages.order_by("-id").values("id")[:1]),
        )
        .order_by(F("latest_id").desc(nulls_last=True), "room__name")
    )


_ROOMS_FOR = PreparedQuery(_rooms_for)
# The same rooms as plain rows (room id, kind, name, unread) for the dashboard: a member
# with its room made ~30 Python calls a room on every visit.
_ROOM_ROWS = PreparedQuery(
    lambda school_id, user_id: _rooms_for(school_id, user_id).values_list(
        "room_id", "room__kind", "room__name", "unread"
    )
)


def rooms_for(user: User) -> list[RoomMember]:
    """The user's rooms with unread counts and the latest message id, in one query. Both
    are index range scans on (room, id): the cost follows the unread messages, not the
    length of the history."""
    return _ROOMS_FOR.list(user.school_id, user.pk)


def room_rows(user: User) -> list[tuple[int, str, str, int]]:
    """`rooms_for(user)` as (room id, kind, name, unread), in the same order."""
    return _ROOM_ROWS.list(user.school_id, user.pk)


UNREAD_SECONDS = 30


def unread_key(user_id: int) -> str:
    return f"messenger:unread:{user_id}"


def unread_total(user: User, request: HttpRequest | None = None) -> int:
    """Unread messages in all the user's rooms, for the navigation on every page: one
    query, then 30 seconds from the cache (reading a room renews it at once); with the
    page's request, from its one round trip (`pagecache`)."""
    if not user.is_authenticated or user.school_id is None:
        return 0
    total = pagecache.take(request, unread_key(user.pk))
    if total is None:
        total = (
            Message.objects.for_school(user.school_id)
            .filter(
                room__members__user=user,
                id__gt=F("room__members__last_read_id"),
                deleted_at__isnull=True,
            )
            .exclude(author=user)
            .count()
        )
        # Within a page's `fragments.batch()`, with the page's other writes.
        fragments.write({unread_key(user.pk): total}, UNREAD_SECONDS)
    return total


def direct_partner_names(user: User, members: list[RoomMember]) -> dict[int, str]:
    """For direct rooms: the other person's name, in one query."""
    return partner_names(user, [m.room_id for m in members if m.room.kind == Room.Kind.DIRECT])


def partner_names(user: User, direct_ids: list[int]) -> dict[int, str]:
    """For the direct rooms `direct_ids`: the other person's name, in one query."""
    if not direct_ids:
        return {}
    others = (
        RoomMember.objects.for_school(user.school_id)
        .filter(room_id__in=direct_ids)
        .exclude(user=user)
        .select_related("user")
    )
    return {m.room_id: str(m.user) for m in others}


def room_title(member: RoomMember, partner_names: dict[int, str]) -> str:
    return title_of(member.room_id, member.room.kind, member.room.name, partner_names)


def title_of(room_id: int, kind: str, name: str, partner_names: dict[int, str]) -> str:
    """A room's title as its members see it: a direct room's is the other person's name."""
    if kind == Room.Kind.DIRECT:
        return partner_names.get(room_id, str(_("Direct message")))
    return name


def room_ids_for(user: User) -> list[int]:
    return list(
        RoomMember.objects.for_school(user.school_id)
        .filter(user=user)
        .values_list("room_id", flat=True)
    )


def messages_after(member: RoomMember, after: int, limit: int = SYNC_BATCH) -> tuple[list, bool]:
    """Everything since `after`, oldest first, in bounded batches: (messages, more)."""
    rows = list(
        _with_related(Message.objects.for_school(member.school_id))
        .filter(room_id=member.room_id, id__gt=max(0, after))
        .order_by("id")[: limit + 1]
    )
    return [serialize(m) for m in rows[:limit]], len(rows) > limit


def catch_up(member: RoomMember, after: int, since: str | None) -> dict[str, Any]:
    """A catch-up batch for a client that has seen up to message `after`: new messages
    ("messages", "more"), older ones edited or deleted since `since` ("changed") and the
    server's time to send as `since` next time ("now")."""
    now = timezone.now()
    messages, more = messages_after(member, after)
    return {
        "messages": messages,
        "more": more,
        "changed": changed_since(member, after, _moment(since)),
        "now": now.isoformat(),
    }


def _moment(value: object) -> datetime | None:
    """A `since` as the server sent it (ISO 8601 with offset); anything else is ignored,
    which only means no changes are sent: a broken value must not break the catch-up."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:  # well-formed but impossible, e.g. month 13
        return None
    return parsed if parsed is not None and timezone.is_aware(parsed) else None


def changed_since(member: RoomMember, upto: int, since: datetime | None) -> list[dict[str, Any]]:
    """Messages up to id `upto` edited or deleted since `since` (the `now` of the client's
    last catch-up), oldest change first, at most SYNC_BATCH of the latest. A change is
    stamped before its transaction commits, so the window reaches CHANGE_OVERLAP further
    back: a change applied twice is harmless, a change missed is not."""
    if since is None or upto <= 0:
        return []
    rows = list(
        _with_related(Message.objects.for_school(member.school_id))
        .filter(room_id=member.room_id, id__lte=upto, changed_at__gte=since - CHANGE_OVERLAP)
        .order_by("-changed_at")[:SYNC_BATCH]
    )
    return [serialize(m) for m in reversed(rows)]


def messages_before(
    member: RoomMember, before: int | None, limit: int = PAGE_SIZE
) -> tuple[list, bool]:
    """History newest first, one page before the message id `before`: (messages, more)."""
    queryset = _with_related(Message.objects.for_school(member.school_id)).filter(
        room_id=member.room_id
    )
    if before:
        queryset = queryset.filter(id__lt=before)
    rows = list(queryset.order_by("-id")[: limit + 1])
    return [serialize(m) for m in rows[:limit]], len(rows) > limit


def search(member: RoomMember, query: str) -> list[Message]:
    query = query.strip()[:200]
    if not query:
        return []
    return list(
        Message.objects.for_school(member.school_id)
        .filter(room_id=member.room_id, deleted_at__isnull=True, body__icontains=query)
        .select_related("author")
        .order_by("-id")[:SEARCH_LIMIT]
    )


# --- permissions ------------------------------------------------------------------------
def can_message_directly(user: User, other: User) -> bool:
    """The school's policy: students may always write to teachers and admins; students
    write to each other only where the school allows it."""
    if user.pk == other.pk or not (user.is_active and other.is_active):
        return False
    if user.school_id is None or user.school_id != other.school_id:
        return False
    if user.is_student and other.is_student:
        return user.school.student_direct_messages
    if user.is_parent:
        return access.parent_contact_ids(user).filter(pk=other.pk).exists()
    if other.is_parent:  # staff write to parents; students do not
        return user.is_teacher or user.is_school_admin
    return True


def direct_candidates(user: User, query: str, limit: int = 20) -> list[User]:
    """People the user may start a direct conversation with, matching `query`. Students see
    their school's staff and, where allowed, students who share a class or group; parents
    the teachers of their children's classes and the school office."""
    query = query.strip()[:100]
    people = User.objects.for_school(user.school_id).filter(is_active=True).exclude(pk=user.pk)
    if query:
        people = people.filter(
            Q(first_name__icontains=query)
            | Q(last_name__icontains=query)
            | Q(username__iexact=query)
        )
    if user.is_parent:
        people = people.filter(pk__in=access.parent_contact_ids(user))
    elif user.is_student:
        staff = Q(role__in=[User.Role.TEACHER, User.Role.SCHOOL_ADMIN])
        if user.school.student_direct_messages:
            classmates = Q(memberships__group_id__in=access.group_ids(user), role=User.Role.STUDENT)
            people = people.filter(staff | classmates)
        else:
            people = people.filter(staff)
    return list(people.distinct().order_by("last_name", "first_name")[:limit])


def check_can_post(member: RoomMember, user: User) -> None:
    room = member.room
    if member.muted:
        raise MessengerError("muted", _("A moderator has muted you in this room."))
    if room.read_only and not member.is_moderator:
        raise MessengerError("read_only", _("Only moderators may write in this room."))
    if room.kind == Room.Kind.DIRECT:
        other = (
            RoomMember.objects.for_school(room.school_id)
            .filter(room=room)
            .exclude(user=user)
            .select_related("user", "user__school")
            .first()
        )
        if other is None or not (
            can_message_directly(user, other.user) or _answers(user, other.user, room)
        ):
            raise MessengerError(
                "not_allowed", _("Your school does not allow this direct conversation.")
            )


def _answers(user: User, other: User, room: Room) -> bool:
    """A parent answers in a conversation a teacher started, also where the school has
    parents write to the office only (School.parents_message_teachers)."""
    return user.is_parent and room.created_by_id == other.pk and can_message_directly(other, user)


def _require_moderator(member: RoomMember) -> None:
    if not member.is_moderator:
        raise MessengerError("forbidden", _("Only moderators of this room may do this."))


def _check_rate(user: User) -> None:
    """At most MESSENGER_RATE_LIMIT new messages per MESSENGER_RATE_WINDOW seconds per user,
    counted in the cache so every process shares the count (this machine's while Redis is
    away)."""
    limit, window = settings.MESSENGER_RATE_LIMIT, settings.MESSENGER_RATE_WINDOW
    key = f"messenger:rate:{user.pk}"

    def count(cache: BaseCache) -> int:
        cache.add(key, 0, timeout=window)
        try:
            return cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            return 1

    if with_counters(count) > limit:
        raise MessengerError(
            "rate_limited",
            _("You are sending too many messages. Please wait a moment and try again."),
        )


# --- writing -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Sent:
    message: dict[str, Any]
    created: bool


def send_message(
    user: User, room_id: int, text: str, client_key: str, attachment_id: int | None = None
) -> Sent:
    """Store one message. The same client key from the same author returns the stored
    message instead of a second copy, so a retried send is harmless."""
    if not isinstance(client_key, str) or not _CLIENT_KEY.match(client_key):
        raise MessengerError("bad_request", _("The message could not be read."))
    text = (text or "").strip()
    if len(text) > MAX_MESSAGE_LENGTH:
        raise MessengerError(
            "too_long",
            _("A message may have at most %(limit)d characters.") % {"limit": MAX_MESSAGE_LENGTH},
        )
    if not text and attachment_id is None:
        raise MessengerError("empty", _("The message is empty."))
    member = member_of(user, room_id)
    # A plain index lookup first: almost every send is new, and a retry is rare.
    existing = (
        Message.objects.for_school(user.school_id)
        .filter(author=user, client_key=client_key)
        .values_list("pk", "room_id")
        .first()
    )
    if existing is not None:
        if existing[1] != room_id:
            raise MessengerError("bad_request", _("The message could not be read."))
        stored = _with_related(Message.objects.for_school(user.school_id)).get(pk=existing[0])
        return Sent(serialize(stored), created=False)
    check_can_post(member, user)
    attachment = None
    if attachment_id is not None:
        attachment = (
            Attachment.objects.for_school(user.school_id)
            .filter(pk=attachment_id, room_id=room_id, uploader=user, message__isnull=True)
            .first()
        )
        if attachment is None:
            raise MessengerError("bad_attachment", _("This attachment is not available."))
    _check_rate(user)
    try:
        with transaction.atomic():
            message = Message.objects.for_school(user.school_id).create(
                room_id=room_id,
                author=user,
                client_key=client_key,
                body=text,
                attachment=attachment,
            )
            # One's own message counts as read.
            RoomMember.objects.for_school(user.school_id).filter(
                pk=member.pk, last_read_id__lt=message.pk
            ).update(last_read_id=message.pk)
            events.message_sent.publish(message_id=message.pk)
    except IntegrityError:  # the same key raced in from a parallel retry
        message = Message.objects.for_school(user.school_id).get(author=user, client_key=client_key)
        return Sent(serialize(message), created=False)
    message.author = user
    return Sent(serialize(message), created=True)


def _own_or_moderated(user: User, message_id: int) -> tuple[Message, RoomMember]:
    if user.school_id is None:
        raise NotFound()
    message = (
        _with_related(Message.objects.for_school(user.school_id))
        .filter(pk=message_id, deleted_at__isnull=True)
        .first()
    )
    if message is None:
        raise NotFound()
    return message, member_of(user, message.room_id)


def edit_message(user: User, message_id: int, text: str) -> dict[str, Any]:
    message, member = _own_or_moderated(user, message_id)
    if message.author_id != user.pk:
        raise MessengerError("forbidden", _("You can only edit your own messages."))
    check_can_post(member, user)
    text = (text or "").strip()
    if len(text) > MAX_MESSAGE_LENGTH:
        raise MessengerError(
            "too_long",
            _("A message may have at most %(limit)d characters.") % {"limit": MAX_MESSAGE_LENGTH},
        )
    if not text and message.attachment_id is None:
        raise MessengerError("empty", _("The message is empty."))
    message.body, message.edited_at = text, timezone.now()
    message.changed_at = message.edited_at
    message.save(update_fields=["body", "edited_at", "changed_at"])
    payload = serialize(message)
    broadcast_on_commit([room_group(message.room_id)], {"type": "message", "message": payload})
    return payload


@transaction.atomic
def delete_message(user: User, message_id: int) -> dict[str, Any]:
    """Authors delete their own messages, moderators any message in their room (audited)."""
    message, member = _own_or_moderated(user, message_id)
    if message.author_id != user.pk:
        _require_moderator(member)
        audit.record(
            user.school_id, user, "messenger.message_removed", message.author, room=member.room_id
        )
    message.deleted_at, message.deleted_by = timezone.now(), user
    message.changed_at = message.deleted_at
    message.save(update_fields=["deleted_at", "deleted_by", "changed_at"])
    payload = serialize(message)
    broadcast_on_commit([room_group(message.room_id)], {"type": "message", "message": payload})
    return payload


def mark_read(user: User, room_id: int, upto: int) -> int:
    member = member_of(user, room_id)
    latest = (
        Message.objects.for_school(user.school_id)
        .filter(room_id=room_id)
        .aggregate(latest=Max("id"))["latest"]
        or 0
    )
    upto = min(max(0, int(upto)), latest)
    RoomMember.objects.for_school(user.school_id).filter(
        pk=member.pk, last_read_id__lt=upto
    ).update(last_read_id=upto)
    cache.delete(unread_key(user.pk))
    return upto


def set_notifications_off(user: User, room_id: int, off: bool) -> RoomMember:
    """A member's own mute: no notifications for this room's new messages."""
    member = member_of(user, room_id)
    member.notifications_off = off
    member.save(update_fields=["notifications_off"])
    return member


@transaction.atomic
def set_muted(moderator: User, room_id: int, user_id: int, muted: bool) -> RoomMember:
    _require_moderator(member_of(moderator, room_id))
    target = (
        RoomMember.objects.for_school(moderator.school_id)
        .select_related("user")
        .filter(room_id=room_id, user_id=user_id)
        .first()
    )
    if target is None:
        raise NotFound()
    if target.is_moderator:
        raise MessengerError("forbidden", _("Moderators cannot be muted."))
    target.muted = muted
    target.save(update_fields=["muted"])
    action = "messenger.muted" if muted else "messenger.unmuted"
    audit.record(moderator.school_id, moderator, action, target.user, room=room_id)
    return target


@transaction.atomic
def set_read_only(moderator: User, room_id: int, read_only: bool) -> Room:
    member = member_of(moderator, room_id)
    _require_moderator(member)
    room = member.room
    room.read_only = read_only
    room.save(update_fields=["read_only"])
    audit.record(moderator.school_id, moderator, "messenger.read_only", room, read_only=read_only)
    broadcast_on_commit(
        [room_group(room.pk)], {"type": "room", "room": room.pk, "read_only": read_only}
    )
    return room


def _announce_rooms_changed(user_ids: set[int]) -> None:
    """Tell open sockets of these users to re-read their list of rooms."""
    if user_ids:
        broadcast_on_commit([user_group(uid) for uid in sorted(user_ids)], {"type": "rooms"})


@transaction.atomic
def create_room(creator: User, name: str, groups: list[Group], read_only: bool = False) -> Room:
    """A teacher's own room (a course team, a project), with the members of the chosen
    classes and groups of the same school; the creator moderates it."""
    if creator.school_id is None or not (creator.is_teacher or creator.is_school_admin):
        raise MessengerError("forbidden", _("Only teachers can create rooms."))
    allowed = set(access.groups_for_teaching(creator).values_list("pk", flat=True))
    if any(group.pk not in allowed for group in groups):
        raise NotFound()
    room = Room.objects.for_school(creator.school_id).create(
        school_id=creator.school_id,
        kind=Room.Kind.CUSTOM,
        name=name.strip()[:100],
        created_by=creator,
        read_only=read_only,
    )
    roles = {creator.pk: RoomMember.Role.MODERATOR}
    for user_id, role in access.roster(creator.school_id, groups):
        if role == access.TEACHER:
            roles[user_id] = RoomMember.Role.MODERATOR
        else:
            roles.setdefault(user_id, RoomMember.Role.MEMBER)
    RoomMember.unscoped.bulk_create(
        RoomMember(school_id=creator.school_id, room=room, user_id=uid, role=role)
        for uid, role in roles.items()
    )
    _announce_rooms_changed(set(roles))
    return room


@transaction.atomic
def open_direct(user: User, other: User) -> Room:
    """The one direct room of two people, created on first use."""
    if not can_message_directly(user, other):
        raise MessengerError(
            "not_allowed", _("Your school does not allow this direct conversation.")
        )
    low, high = sorted((user.pk, other.pk))
    room, created = Room.objects.for_school(user.school_id).get_or_create(
        direct_key=f"{low}-{high}",
        defaults={"school_id": user.school_id, "kind": Room.Kind.DIRECT, "created_by": user},
    )
    if created:
        RoomMember.unscoped.bulk_create(
            RoomMember(school_id=user.school_id, room=room, user_id=uid) for uid in (low, high)
        )
        _announce_rooms_changed({low, high})
    return room


def send_direct_notices(author: User, recipients: list[User], text: str, key: str) -> int:
    """The same message to each recipient in their direct conversation with `author`
    (e.g. a teacher's reminder to those who have not handed in). One action of the author,
    so the flood limit does not apply; `key` makes a repeated click send nothing twice.
    Returns the number of messages sent."""
    sent = 0
    for recipient in recipients:
        if not can_message_directly(author, recipient):
            continue
        room = open_direct(author, recipient)
        client_key = f"{key}-{recipient.pk}"[:64]
        with transaction.atomic():
            message, created = Message.objects.for_school(author.school_id).get_or_create(
                author=author,
                client_key=client_key,
                defaults={
                    "school_id": author.school_id,
                    "room": room,
                    "body": text[:MAX_MESSAGE_LENGTH],
                },
            )
            if not created:
                continue
            RoomMember.objects.for_school(author.school_id).filter(
                room=room, user=author, last_read_id__lt=message.pk
            ).update(last_read_id=message.pk)
            events.message_sent.publish(message_id=message.pk)
            message.author = author
            broadcast_on_commit(
                [room_group(room.pk)], {"type": "message", "message": serialize(message)}
            )
        sent += 1
    return sent


# --- rooms mirroring the roster ----------------------------------------------------------
@transaction.atomic
def sync_group_room(group: Group) -> Room:
    """Create the group's room if needed and make its members equal the roster: group
    teachers moderate, students are members; people who left the group leave the room,
    and everyone leaves the room of a deactivated group (until it is reactivated)."""
    room, _created = Room.objects.for_school(group.school_id).get_or_create(
        group=group,
        defaults={"school_id": group.school_id, "kind": Room.Kind.GROUP, "name": group.name},
    )
    if room.name != group.name:
        room.name = group.name
        room.save(update_fields=["name"])
    wanted = {
        uid: RoomMember.Role.MODERATOR if role == access.TEACHER else RoomMember.Role.MEMBER
        for uid, role in access.roster(group.school_id, [group])
    }
    current = {
        m.user_id: m for m in RoomMember.objects.for_school(group.school_id).filter(room=room)
    }
    gone = set(current) - set(wanted)
    if gone:
        RoomMember.objects.for_school(group.school_id).filter(room=room, user_id__in=gone).delete()
    RoomMember.unscoped.bulk_create(
        RoomMember(school_id=group.school_id, room=room, user_id=uid, role=role)
        for uid, role in wanted.items()
        if uid not in current
    )
    changed_role = [m for uid, m in current.items() if uid in wanted and m.role != wanted[uid]]
    for member in changed_role:
        member.role = wanted[member.user_id]
    RoomMember.unscoped.bulk_update(changed_role, ["role"])
    _announce_rooms_changed(gone | (set(wanted) - set(current)))
    return room


def sync_school_rooms(school_id: int) -> int:
    """Every class and group room of a school in step with the roster; returns the count."""
    groups = list(Group.objects.for_school(school_id).filter(is_active=True))
    for group in groups:
        sync_group_room(group)
    return len(groups)


def sync_user_rooms(user_id: int) -> None:
    """After one person's memberships changed: re-sync the groups they are or were in."""
    user = User.objects.filter(pk=user_id).only("school_id").first()
    if user is None or user.school_id is None:
        return
    group_ids = set(
        Membership.objects.for_school(user.school_id)
        .filter(user_id=user_id)
        .values_list("group_id", flat=True)
    ) | set(
        RoomMember.objects.for_school(user.school_id)
        .filter(user_id=user_id, room__group__isnull=False)
        .values_list("room__group_id", flat=True)
    )
    for group in Group.objects.for_school(user.school_id).filter(pk__in=group_ids):
        sync_group_room(group)
