"""Database upkeep that domain code asks for after bulk writes."""

from django.db import connection, transaction


def refresh_statistics() -> None:
    """Let the query planner see bulk-written rows now, not at the next autovacuum.

    Measured after seeding the demo school on PostgreSQL: a student's task list took
    245–330 ms with stale statistics and about 14 ms after ANALYZE — the difference
    between a calm and a collapsing 8:00 right after the year's accounts were imported.
    Runs after the surrounding transaction commits.
    """

    def analyze() -> None:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    transaction.on_commit(analyze)
