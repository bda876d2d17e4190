"""What happens to absence reports that other modules follow (notifications)."""

from kreide.core.events import Event

absence_reported = Event("parents.absence_reported", "A parent reported an absence (report_id).")
absence_acknowledged = Event(
    "parents.absence_acknowledged", "A teacher or the office acknowledged an absence (report_id)."
)
