"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.timetable.models import (
    CalendarSettings,
    Event,
    FeedToken,
    ImportKey,
    Lesson,
    Period,
    Room,
    ScreenLink,
    Substitution,
    TeacherCode,
)
from kreide.transfer import registry

registry.register(Period)
registry.register(Room)
registry.register(TeacherCode)
registry.register(Lesson)
registry.register(Substitution)
registry.register(ScreenLink, unique_across_schools=("token",))  # the hallway screens keep working
registry.register(Event)
registry.register(CalendarSettings)
registry.register(FeedToken, unique_across_schools=("token",))  # subscriptions keep working
registry.register(ImportKey, unique_across_schools=("secret_sha256",))  # the push keeps working
