"""What happens to classes, groups and memberships; messenger rooms and video follow."""

from kreide.core.events import Event

group_created = Event("schools.group_created", "A class or group was created (group_id).")
group_changed = Event(
    "schools.group_changed", "A group's name, kind, grade or subject changed (group_id, changes)."
)
group_active_changed = Event(
    "schools.group_active_changed", "A group was deactivated or reactivated (group_id, active)."
)
membership_changed = Event(
    "schools.membership_changed",
    "People joined or left a group (group_id, added, removed, teachers).",
)
