"""Recording audit entries from domain functions.

Each app declares the actions it records with the label the school office reads, next to
the services that record them: `audit.declare({"files.link_created": _("Public link
created")})`. A test fails for an action recorded anywhere without a declared label.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from kreide.core.models import AuditEntry

_labels: dict[str, Any] = {}


def declare(labels: dict[str, Any]) -> None:
    """Declare actions and their (lazily translated) labels."""
    _labels.update(labels)


def label(action: str) -> str:
    """What the school office reads for `action` (its code when nobody declared it)."""
    return str(_labels.get(action, action))


def declared() -> dict[str, Any]:
    return dict(_labels)


def record(
    school: Any,
    actor: Any | None,
    action: str,
    target: models.Model | None = None,
    *,
    using: str = "default",
    **details: Any,
) -> AuditEntry:
    """Write one audit entry inside the caller's transaction; `school` is a School or its id."""
    return AuditEntry.unscoped.db_manager(using).create(
        school_id=getattr(school, "pk", school),
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=str(target)[:255] if target is not None else "",
        details=details,
    )


def record_many(
    school: Any, actor: Any | None, action: str, targets: list[models.Model], **details: Any
) -> None:
    """One entry per target in a single bulk insert (imports touch hundreds of accounts)."""
    AuditEntry.unscoped.bulk_create(
        [
            AuditEntry(
                school_id=getattr(school, "pk", school),
                actor=actor if getattr(actor, "pk", None) else None,
                action=action,
                target_type=target._meta.label_lower,
                target_id=str(target.pk),
                target_label=str(target)[:255],
                details=details,
            )
            for target in targets
        ],
        batch_size=1000,
    )
