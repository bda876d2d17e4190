"""Incidents and the cached status snapshot the status page and banners read.

Pages never query the database for the status: incident changes and the health sampler
write `status:incidents` / `status:health` into the cache (and a file, so the status page
still answers when the cache is away).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from kreide.accounts.models import User
from kreide.core import audit, pagecache
from kreide.core.banners import Banner
from kreide.schools.access import require_admin
from kreide.status.models import Incident

logger = logging.getLogger(__name__)
INCIDENTS_KEY = "status:incidents"
HEALTH_KEY = "status:health"
RECENTLY_CLOSED = 5
FILE_FALLBACK_SECONDS = 10


audit.declare(
    {
        "incident.opened": gettext_lazy("Disruption notice shown"),
        "incident.closed": gettext_lazy("Disruption notice resolved"),
    }
)


def snapshot_file() -> Path:
    return Path(settings.DATA_DIR) / "status.json"


def _incident_dict(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "text": incident.text,
        "level": incident.level,
        "started_at": incident.started_at.isoformat(),
        "updated_at": incident.updated_at.isoformat(),
        "ended_at": incident.ended_at.isoformat() if incident.ended_at else None,
        "school_id": incident.school_id,
    }


def publish_incidents() -> list[dict[str, Any]]:
    """Copy open and recently closed incidents into the cache and the snapshot file."""
    open_ones = list(Incident.objects.filter(ended_at__isnull=True))
    closed = list(
        Incident.objects.filter(ended_at__isnull=False).order_by("-ended_at")[:RECENTLY_CLOSED]
    )
    items = [_incident_dict(incident) for incident in [*open_ones, *closed]]
    cache.set(INCIDENTS_KEY, items, None)
    write_snapshot(incidents=items)
    return items


def open_incident(
    text: str, level: str = Incident.Level.WARNING, school: Any | None = None
) -> Incident:
    """The operator's way in (`kreide incident`); `school` limits the banner to one school."""
    text = text.strip()
    if not text:
        raise ValueError("An incident needs a description.")
    return Incident.objects.create(text=text, level=level, school=school)


def close_incidents(incident_id: int | None = None, school: Any | None = None) -> int:
    """Resolve one incident, or every open one (of one school if given); returns how many
    were closed."""
    found = Incident.objects.filter(ended_at__isnull=True)
    if incident_id is not None:
        found = found.filter(pk=incident_id)
    if school is not None:
        found = found.filter(school=school)
    closed = found.update(ended_at=timezone.now(), updated_at=timezone.now())
    transaction.on_commit(publish_incidents)
    return closed


def school_incidents(school: Any) -> Any:
    """A school's own incident notes, newest first."""
    return Incident.objects.filter(school=school)


@transaction.atomic
def open_school_incident(actor: User, text: str, level: str) -> Incident:
    """A school admin's note for their own school: a banner on every page its people open."""
    require_admin(actor, actor.school_id)
    incident = open_incident(text, level, school=actor.school)
    audit.record(actor.school, actor, "incident.opened", incident, level=level)
    return incident


@transaction.atomic
def close_school_incident(actor: User, incident_id: int) -> bool:
    """Resolve one of the actor's school's notes; False when there is no such open note."""
    require_admin(actor, actor.school_id)
    incident = school_incidents(actor.school_id).filter(pk=incident_id).first()
    if incident is None or not close_incidents(incident.pk):
        return False
    audit.record(actor.school, actor, "incident.closed", incident)
    return True


def write_snapshot(**parts: Any) -> None:
    path = snapshot_file()
    try:
        current = json.loads(path.read_text()) if path.exists() else {}
    except ValueError:
        current = {}
    current.update(parts)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(current))
    temporary.replace(path)  # atomic: readers never see half a file


def _sampled_at(snapshot: dict[str, Any]) -> float:
    return (snapshot.get("health") or {}).get("at", 0)


def read_snapshot() -> dict[str, Any]:
    """Incidents and health from the cache or the snapshot file, whichever the sampler
    wrote last: a Redis back from an outage still holds what it had before it went away,
    while the file went on with every round."""
    found = cache.get_many([INCIDENTS_KEY, HEALTH_KEY])
    try:
        stored = json.loads(snapshot_file().read_text())
    except (OSError, ValueError):
        stored = {}
    cached = {"incidents": found.get(INCIDENTS_KEY), "health": found.get(HEALTH_KEY)}
    first, other = (
        (stored, cached) if _sampled_at(stored) > _sampled_at(cached) else (cached, stored)
    )
    incidents = first.get("incidents")
    return {
        "incidents": incidents if incidents is not None else other.get("incidents") or [],
        "health": first.get("health") or other.get("health"),
    }


def open_incidents_cached(request: HttpRequest | None = None) -> list[dict[str, Any]]:
    """With the page's request, from its one round trip (`pagecache`)."""
    items = pagecache.take(request, INCIDENTS_KEY)
    if items is None:
        # Not in the cache (evicted, or Redis away): take them from the snapshot file and
        # keep them here briefly.
        items = read_snapshot()["incidents"]
        cache.set(INCIDENTS_KEY, items, FILE_FALLBACK_SECONDS)
    return [item for item in items if item["ended_at"] is None]


def incident_changed(**_: Any) -> None:
    transaction.on_commit(publish_incidents)


def incident_banners(request: Any) -> list[Banner]:
    """Every open incident of the platform and of the user's school as a page banner, from
    the cache only."""
    school_id = getattr(getattr(request, "user", None), "school_id", None)
    return [
        Banner(item["text"], item["level"])
        for item in open_incidents_cached(request)
        if item.get("school_id") in (None, school_id)
    ]
