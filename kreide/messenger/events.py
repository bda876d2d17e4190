"""What happens in the messenger that other modules follow (notifications)."""

from kreide.core.events import Event

message_sent = Event("messenger.message_sent", "A new message was stored in a room (message_id).")
