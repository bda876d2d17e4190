"""The OpenAPI 3.1 document at /api/v1/openapi.json: the API's own parts (authentication,
errors, /me) plus what each app registered (kreide.api.registry)."""

from __future__ import annotations

from typing import Any

from kreide.api import registry

ERROR = {"type": "object", "properties": {"detail": {}, "error": {"type": "string"}}}
ME = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "username": {"type": "string"},
        "name": {"type": "string"},
        "role": {"type": "string", "enum": ["student", "teacher", "school_admin"]},
        "school": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "slug": {"type": "string"},
            },
        },
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "kind": {"type": "string"},
                    "role": {"type": "string", "enum": ["member", "teacher"]},
                },
            },
        },
    },
    "additionalProperties": True,
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Kreide API",
            "version": "1",
            "description": "Authenticate with a personal API token (Authorization: Bearer; "
            "created at /api/tokens/) or the browser session (send the CSRF token as "
            "X-CSRFToken with every write). Errors are JSON with `detail`.",
        },
        "paths": {
            "/api/v1/me": {
                "get": {
                    "summary": "The signed-in account: school, role, groups (and more "
                    "from the modules, e.g. `mail`)",
                    "responses": {
                        "200": {
                            "description": "OK",
                            "content": {"application/json": {"schema": ME}},
                        },
                        "401": {"description": "Not signed in"},
                    },
                }
            },
            **registry.document_paths,
        },
        "components": {
            "schemas": {"Error": ERROR, "Me": ME, **registry.document_schemas},
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                **registry.document_security,
            },
        },
        "security": [{"token": []}, {"session": []}],
    }
