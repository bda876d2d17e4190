"""Domain events, declared once beside their app and delivered only after the transaction
that caused them commits.

An app declares its events in `kreide/<app>/events.py`:

    group_changed = Event("schools.group_changed", "A group's name, kind or grade changed.")

publishes with `group_changed.publish(group_id=...)` and others subscribe in their
`AppConfig.ready()` with `school_events.group_changed.subscribe(handler)`. A misspelt event
is an AttributeError at import, not a silence at run time; a handler that fails is logged
and never breaks the write that published the event or the other handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)
_declared: dict[str, Event] = {}


class Event:
    def __init__(self, name: str, doc: str) -> None:
        if name in _declared:
            raise ValueError(f"Event {name!r} is declared twice.")
        self.name = name
        self.doc = doc
        self.handlers: list[Callable[..., None]] = []
        _declared[name] = self

    def __repr__(self) -> str:
        return f"Event({self.name!r})"

    def subscribe(self, handler: Callable[..., None]) -> None:
        if handler not in self.handlers:
            self.handlers.append(handler)

    def unsubscribe(self, handler: Callable[..., None]) -> None:
        self.handlers.remove(handler)

    def publish(self, **payload: Any) -> None:
        """Deliver to the subscribers once the current transaction has committed."""

        def deliver() -> None:
            for handler in list(self.handlers):
                try:
                    handler(**payload)
                except Exception:
                    logger.exception("event handler failed", extra={"event": self.name})

        transaction.on_commit(deliver)


def declared() -> dict[str, Event]:
    """Every declared event by name (for docs and the test that each has a subscriber)."""
    return dict(_declared)
