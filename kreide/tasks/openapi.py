"""The tasks' part of the OpenAPI document at /api/v1/openapi.json, written by hand and
registered with kreide.api.registry in TasksConfig.ready()."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Invalid input (field errors in `detail`)"),
    "401": _json(_ref("Error"), "Not signed in"),
    "403": _json(_ref("Error"), "Visible, but not allowed (reason in `detail`)"),
    "404": _json(_ref("Error"), "Not found, or not visible to this user"),
}
TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "integer"}}

SCHEMAS: dict[str, Any] = {
    "Task": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "starts_at": {"type": "string", "format": "date-time"},
            "due_at": {"type": "string", "format": "date-time"},
            "accept_late": {"type": "boolean"},
            "expects": {"type": "string", "enum": ["files", "text", "both"]},
            "max_file_mb": {"type": "integer"},
            "url": {"type": "string"},
            "state": {
                "type": "string",
                "enum": ["open", "draft", "submitted", "returned", "reviewed", "overdue"],
            },
            "handed_in": {"type": "integer"},
        },
    },
    "TaskDetail": {
        "allOf": [
            _ref("Task"),
            {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "description_html": {"type": "string"},
                    "attachments": {"type": "array", "items": _ref("File")},
                    "groups": {"type": "array", "items": {"type": "integer"}},
                    "students": {"type": "array", "items": {"type": "integer"}},
                    "submission": {"oneOf": [_ref("Submission"), {"type": "null"}]},
                },
            },
        ]
    },
    "TaskInput": {
        "type": "object",
        "required": ["title", "groups", "starts_at", "due_at"],
        "properties": {
            "title": {"type": "string", "maxLength": 200},
            "description": {"type": "string"},
            "groups": {"type": "array", "items": {"type": "integer"}},
            "students": {"type": "array", "items": {"type": "integer"}},
            "starts_at": {"type": "string", "format": "date-time"},
            "due_at": {"type": "string", "format": "date-time"},
            "accept_late": {"type": "boolean"},
            "expects": {"type": "string", "enum": ["files", "text", "both"]},
            "max_file_mb": {"type": "integer", "minimum": 1, "maximum": 200},
            "attachments": {
                "type": "array",
                "items": {"type": "string", "format": "uuid"},
                "description": "ids of finished task-attachment uploads",
            },
        },
    },
    "File": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "filename": {"type": "string"},
            "size": {"type": "integer"},
            "sha256": {"type": "string"},
            "url": {"type": "string"},
            "received_at": {"type": "string", "format": "date-time"},
            "upload_started_at": {"type": "string", "format": "date-time"},
            "finished_after_due": {"type": "boolean"},
        },
    },
    "Submission": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "student": {"type": "integer"},
            "status": {
                "type": "string",
                "enum": ["draft", "submitted", "returned", "reviewed"],
            },
            "text": {"type": "string"},
            "late": {"type": "boolean"},
            "submitted_at": {"type": "string", "format": "date-time"},
            "handed_in_at": {"type": ["string", "null"], "format": "date-time"},
            "receipt": {"type": ["string", "null"], "description": "SHA-256 of the hand-in"},
            "receipt_code": {"type": ["string", "null"], "description": "e.g. ABCD-EFGH"},
            "changed_at": {"type": "string", "format": "date-time"},
            "files": {"type": "array", "items": _ref("File")},
            "feedback": {"type": ["string", "null"]},
            "points": {"type": ["string", "null"]},
            "grade": {"type": ["string", "null"]},
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/v1/tasks/": {
        "get": {
            "summary": "My tasks (students: assigned and visible; teachers: managed)",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {"tasks": {"type": "array", "items": _ref("Task")}},
                    }
                ),
                **ERRORS,
            },
        },
        "post": {
            "summary": "Create a task (teachers of the chosen groups)",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref("TaskInput")}},
            },
            "responses": {"201": _json(_ref("TaskDetail"), "Created"), **ERRORS},
        },
    },
    "/api/v1/tasks/{task_id}": {
        "parameters": [TASK_ID],
        "get": {
            "summary": "A task, with the student's own submission",
            "responses": {"200": _json(_ref("TaskDetail")), **ERRORS},
        },
        "patch": {
            "summary": "Change a task (teachers)",
            "requestBody": {"content": {"application/json": {"schema": _ref("TaskInput")}}},
            "responses": {"200": _json(_ref("TaskDetail")), **ERRORS},
        },
        "delete": {
            "summary": "Delete a task and its submissions (teachers)",
            "responses": {"204": {"description": "Deleted"}, **ERRORS},
        },
    },
    "/api/v1/tasks/{task_id}/submissions": {
        "parameters": [TASK_ID],
        "get": {
            "summary": "Every assigned student with their submission or null (teachers)",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "students": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "integer"},
                                        "name": {"type": "string"},
                                        "submission": {
                                            "oneOf": [_ref("Submission"), {"type": "null"}]
                                        },
                                    },
                                },
                            }
                        },
                    }
                ),
                **ERRORS,
            },
        },
    },
    "/api/v1/tasks/{task_id}/submissions/{submission_id}/review": {
        "parameters": [
            TASK_ID,
            {
                "name": "submission_id",
                "in": "path",
                "required": True,
                "schema": {"type": "integer"},
            },
        ],
        "post": {
            "summary": "Feedback, optional points or grade; or return for revision",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "feedback": {"type": "string"},
                                "points": {"type": ["number", "null"]},
                                "grade": {"type": "string"},
                                "return_for_revision": {"type": "boolean"},
                            },
                        }
                    }
                },
            },
            "responses": {"200": _json(_ref("Submission")), **ERRORS},
        },
    },
    "/api/v1/tasks/{task_id}/submission": {
        "parameters": [TASK_ID],
        "get": {
            "summary": "The student's own submission (marks feedback as seen)",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "state": {"type": "string"},
                            "submission": {"oneOf": [_ref("Submission"), {"type": "null"}]},
                        },
                    }
                ),
                **ERRORS,
            },
        },
        "put": {
            "summary": "Save the submission's text (students; until the due date)",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"text": {"type": "string"}}}
                    }
                },
            },
            "responses": {"200": _json({"type": "object"}), **ERRORS},
        },
    },
    "/api/v1/tasks/{task_id}/submission/hand-in": {
        "parameters": [TASK_ID],
        "post": {
            "summary": "Hand the draft in (students): files and text as the task expects; "
            "the answer carries the receipt (SHA-256) and its short code",
            "responses": {"200": _json(_ref("Submission")), **ERRORS},
        },
    },
    "/api/v1/tasks/{task_id}/submission/take-back": {
        "parameters": [TASK_ID],
        "post": {
            "summary": "Turn a handed-in submission not yet reviewed back into a draft "
            "(until the due date)",
            "responses": {"200": _json(_ref("Submission")), **ERRORS},
        },
    },
    "/api/v1/tasks/{task_id}/submission/files/{file_id}": {
        "parameters": [
            TASK_ID,
            {"name": "file_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ],
        "delete": {
            "summary": "Remove a file from the own submission (until the due date)",
            "responses": {"204": {"description": "Removed"}, **ERRORS},
        },
    },
}
