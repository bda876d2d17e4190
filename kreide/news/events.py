"""What happens to news that other modules follow (notifications)."""

from kreide.core.events import Event

news_published = Event(
    "news.published", "News or a parent letter reached its readers: posted, or due (news_id)."
)
letter_reminder = Event(
    "news.letter_reminder",
    "The author reminded the parents who have not confirmed a letter (news_id, parent_ids).",
)
