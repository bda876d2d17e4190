"""What the files follow of other modules' events."""

from __future__ import annotations

from typing import Any

from kreide.files import services


def users_created(school_id: int, user_ids: list[int], **payload: Any) -> None:
    """`accounts.users_created`: the new accounts' own folders, before their first visit."""
    services.provision_personal_spaces(school_id, user_ids)
