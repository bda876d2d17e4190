"""What happens to accounts that other modules follow."""

from kreide.core.events import Event

user_active_changed = Event(
    "accounts.user_active_changed", "An account was deactivated or reactivated (user_id, active)."
)
