"""What happens to video lessons that other modules follow (notifications)."""

from kreide.core.events import Event

lesson_started = Event("video.lesson_started", "A video lesson's room opened (lesson_id).")
