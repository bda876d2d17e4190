"""Column values to JSON and back, without losing precision between SQLite and PostgreSQL.

Django's JSON encoder cuts datetimes to milliseconds; here every datetime is written in
UTC with microseconds, binary data as base64, and rows with sorted keys, so the same data
gives the same bytes whichever database it was read from (PostgreSQL's jsonb reorders
object keys, hence sorting).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import uuid
from typing import Any

from django.db import models
from django.utils.duration import duration_iso_string


def encode(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC)
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def decode(field: models.Field, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return value
    if isinstance(field, models.BinaryField):
        return base64.b64decode(value)
    return field.to_python(value)


def dumps_row(row: dict[str, Any]) -> bytes:
    return (
        json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"
    ).encode("utf-8")
