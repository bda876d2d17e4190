"""What happens to accounts that other modules follow."""

from kreide.core.events import Event

user_active_changed = Event(
    "accounts.user_active_changed", "An account was deactivated or reactivated (user_id, active)."
)
users_created = Event(
    "accounts.users_created",
    "Accounts were created by an admin or an import (school_id, user_ids).",
)
