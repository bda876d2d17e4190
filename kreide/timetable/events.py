"""What happens to the timetable that other modules follow (notifications)."""

from kreide.core.events import Event

substitutions_added = Event(
    "timetable.substitutions_added",
    "An import added substitutions (school_id, substitution_ids).",
)
