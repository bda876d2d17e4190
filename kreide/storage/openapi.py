"""The tus upload server's part of the OpenAPI document (registered in StorageConfig.ready())."""

from __future__ import annotations

from typing import Any

UPLOAD_ID = {
    "name": "upload_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
TUS_HEADER = {
    "name": "Tus-Resumable",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "enum": ["1.0.0"]},
}

PATHS: dict[str, Any] = {
    "/uploads/": {
        "options": {"summary": "tus capabilities", "responses": {"204": {"description": "OK"}}},
        "post": {
            "summary": "tus creation: Upload-Length and Upload-Metadata (filename, "
            "filetype, purpose = task-attachment | task-submission | …, task); with "
            "creation-with-upload the body (application/offset+octet-stream, optional "
            "Upload-Checksum) carries the first bytes, or the whole file, which then "
            "answers Kreide-Upload-Result",
            "parameters": [TUS_HEADER],
            "responses": {
                "201": {"description": "Created; Location and Upload-Offset headers"},
                "400": {"description": "Malformed request"},
                "401": {"description": "Signed out, or the API token is not valid"},
                "403": {"description": "Not allowed (reason in body)"},
                "413": {"description": "File too large"},
                "415": {"description": "File type not allowed"},
                "460": {"description": "Checksum mismatch (nothing created)"},
            },
        },
    },
    "/uploads/{upload_id}": {
        "parameters": [UPLOAD_ID, TUS_HEADER],
        "head": {
            "summary": "Upload-Offset of an upload",
            "responses": {"200": {"description": "OK"}, "404": {"description": "Unknown"}},
        },
        "patch": {
            "summary": "Append bytes (application/offset+octet-stream; optional "
            "Upload-Checksum); the last one answers Kreide-Upload-Result",
            "responses": {
                "204": {"description": "Stored"},
                "409": {"description": "Offset mismatch"},
                "460": {"description": "Checksum mismatch"},
            },
        },
        "delete": {
            "summary": "Abandon an upload",
            "responses": {"204": {"description": "Removed"}},
        },
    },
    "/uploads/{upload_id}/result": {
        "parameters": [UPLOAD_ID],
        "get": {
            "summary": "The purpose's result once complete",
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "409": {"description": "Not complete yet"},
            },
        },
    },
}
