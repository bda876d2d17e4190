"""Demo content: a room for every class and group, and a few first messages."""

from __future__ import annotations

import random
import uuid

from kreide.messenger import services
from kreide.messenger.models import Message, RoomMember
from kreide.schools.models import School

GREETINGS = [
    "Guten Morgen! Die Aufgaben für heute stehen unter „Aufgaben“.",
    "Bitte denkt an die Abgabe bis Freitag.",
    "Die Videostunde beginnt um 8:10 Uhr, Link folgt hier.",
]


def seed(school: School, rng: random.Random) -> None:
    services.sync_school_rooms(school.pk)
    moderators = (
        RoomMember.objects.for_school(school)
        .filter(role=RoomMember.Role.MODERATOR, room__group__isnull=False)
        .order_by("room_id", "user_id")
    )
    first_per_room: dict[int, int] = {}
    for member in moderators:
        first_per_room.setdefault(member.room_id, member.user_id)
    Message.unscoped.bulk_create(
        Message(
            school=school,
            room_id=room_id,
            author_id=user_id,
            body=rng.choice(GREETINGS),
            client_key=uuid.UUID(int=rng.getrandbits(128)).hex,
        )
        for room_id, user_id in first_per_room.items()
    )
