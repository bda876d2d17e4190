"""Draining a node before it stops (rolling upgrades, docs/scale-out.md).

`kreide drain` leaves a mark in this node's data directory; from then on `/readyz` answers
503 "draining", so the load balancer sends the node no new requests while the ones it has
run to their end. `kreide serve` removes the mark when it starts, so the restarted node
comes back into rotation by itself.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def mark() -> Path:
    return Path(settings.DATA_DIR) / "draining"


def draining() -> bool:
    return mark().exists()


def begin() -> None:
    mark().touch()


def end() -> None:
    mark().unlink(missing_ok=True)
