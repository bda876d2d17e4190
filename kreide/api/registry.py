"""The API's one home: apps register their routes, their part of the OpenAPI document
and their part of `GET /api/v1/me` from `AppConfig.ready()`.

    registry.register_routes("tasks/", "kreide.tasks.api")        # /api/v1/tasks/...
    registry.register_document(paths={...}, schemas={...})       # OpenAPI 3.1
    registry.register_me(lambda user: {"mail": address_of(user)})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

routes: list[tuple[str, str]] = []
document_paths: dict[str, Any] = {}
document_schemas: dict[str, Any] = {}
document_security: dict[str, Any] = {}
me_parts: list[Callable[[Any], dict[str, Any]]] = []


def register_routes(prefix: str, urlconf: str) -> None:
    """Mount `urlconf` (a module with `urlpatterns`) at /api/v1/<prefix>."""
    if (prefix, urlconf) not in routes:
        routes.append((prefix, urlconf))


def register_document(
    paths: dict[str, Any] | None = None,
    schemas: dict[str, Any] | None = None,
    security_schemes: dict[str, Any] | None = None,
) -> None:
    """`security_schemes`: a route's own way of signing in (the timetable's import key),
    named by its operations' `security`."""
    document_paths.update(paths or {})
    document_schemas.update(schemas or {})
    document_security.update(security_schemes or {})


def register_me(part: Callable[[Any], dict[str, Any]]) -> None:
    """`part(user)` adds keys to `GET /api/v1/me` (a fixed number of queries)."""
    if part not in me_parts:
        me_parts.append(part)
