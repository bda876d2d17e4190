"""Tasks work when their tables answer."""

from kreide.core import health


def check() -> str | None:
    health.tables_answer("tasks")
    return None
