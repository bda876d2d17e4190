"""Module health checks: each module registers its own in `AppConfig.ready()`.

    health.register("tasks", _("Tasks"), check, order=20)

A check returns None when the module works, NOT_CONFIGURED when this deployment does not
use it, else a short reason; an exception is an answer too. A check that `degrades` is of
a part whose failure slows Kreide down but stops nothing (the cache): shown as degraded. The sampler
(`kreide status-sample`) runs them, never a page; `/status` shows them in `order`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps

NOT_CONFIGURED = "not configured"


@dataclass(frozen=True)
class Check:
    key: str
    label: Any  # lazily translated
    run: Callable[[], str | None]
    order: int
    degrades: bool = False


_checks: dict[str, Check] = {}


def register(
    key: str, label: Any, run: Callable[[], str | None], order: int, degrades: bool = False
) -> None:
    _checks[key] = Check(key, label, run, order, degrades)


def registered() -> list[Check]:
    return sorted(_checks.values(), key=lambda check: (check.order, check.key))


def tables_answer(app_label: str) -> None:
    """The database answers for the app's tables (one cheap query each)."""
    for model in apps.get_app_config(app_label).get_models():
        # The base manager is Django's plain one: no school scope needed to probe a table.
        list(model._base_manager.values_list("pk", flat=True)[:1])


def writable(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=directory, prefix=".health-"):
        pass
