"""Domain events, published only after the transaction that caused them commits.

Modules subscribe with `subscribe("tasks.submitted", handler)`; a handler that fails is
logged and never breaks the write that published the event or the other handlers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)
_handlers: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(event: str, handler: Callable[..., None]) -> None:
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def publish(event: str, **payload: Any) -> None:
    """Deliver `event` to its subscribers once the current transaction has committed."""

    def deliver() -> None:
        for handler in list(_handlers.get(event, ())):
            try:
                handler(**payload)
            except Exception:
                logger.exception("event handler failed", extra={"event": event})

    transaction.on_commit(deliver)
