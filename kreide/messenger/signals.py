"""Keeping class and group rooms in step with the roster, from domain events."""

from __future__ import annotations

from typing import Any

from kreide.messenger import services
from kreide.messenger.models import Room
from kreide.schools.models import Group


def membership_changed(
    group_id: int | None = None, user_id: int | None = None, **payload: Any
) -> None:
    """`schools.membership_changed`: someone joined or left a group (or changed role)."""
    if group_id is not None:
        group = Group.unscoped.filter(pk=group_id).first()
        if group is not None:
            services.sync_group_room(group)
            return
    if user_id is not None:
        services.sync_user_rooms(user_id)


def user_active_changed(user_id: int, **payload: Any) -> None:
    """A deactivated account leaves its class rooms; a reactivated one comes back."""
    services.sync_user_rooms(user_id)


def group_changed(group_id: int, **payload: Any) -> None:
    """`schools.group_created` / `group_changed` / `group_active_changed`: an active group
    gets its room (renamed with the group); a deactivated group's room is emptied, its
    messages kept for when the group comes back."""
    group = Group.unscoped.filter(pk=group_id).first()
    if group is not None and (group.is_active or Room.unscoped.filter(group=group).exists()):
        services.sync_group_room(group)
