"""Recording audit entries from domain functions."""

from __future__ import annotations

from typing import Any

from django.db import models

from kreide.core.models import AuditEntry


def record(
    school: Any, actor: Any | None, action: str, target: models.Model | None = None, **details: Any
) -> AuditEntry:
    """Write one audit entry inside the caller's transaction."""
    return AuditEntry.unscoped.create(
        school=school,
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
