"""Rolling upgrades (docs/scale-out.md): `kreide migrate` runs while the nodes still run the
previous release, so a migration must leave a schema the previous release's code works on
(expand now, contract one release later). django-migration-linter's SQL analyser reads the
SQL each migration would run on PostgreSQL and names what breaks the old code: a dropped
or renamed table or column, a changed column type, a NOT NULL column without a default kept
in the database (old code's INSERTs leave it out), a new unique constraint."""

from __future__ import annotations

import functools

import pytest
from django.apps import apps
from django.db import connection, migrations, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.state import ProjectState
from django_migration_linter.sql_analyser import PostgresqlAnalyser, analyse_sql_statements

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the rule is for PostgreSQL, where several nodes share one database",
    ),
]

# Migrations that broke the rule before it was written down (Kreide had no rolling
# upgrades then): AddFields with `default=` and NOT NULL, whose default Django drops from
# the table after filling the rows (use `db_default=`; one also added a unique constraint),
# and the move of the announcements to news, which dropped the old table in the same
# release. The list only shrinks; a contract step that comes one release after its expand
# step is added here with what the previous release stopped reading.
BEFORE_THE_RULE = {
    ("accounts", "0004_user_sis_id"),
    ("messenger", "0003_roommember_notifications_off"),
    ("notifications", "0004_preference_sources"),
    ("schools", "0002_news_moved_parents_see_task_contents"),
    ("schools", "0003_group_archived_year"),
    ("schools", "0004_school_has_archives"),
    ("storage", "0003_blob_stored_at"),
    ("tasks", "0002_hand_in"),
    ("timetable", "0003_event_href"),
}


def _sql(migration: migrations.Migration, state: ProjectState) -> tuple[list[str], ProjectState]:
    """The statements `migration` runs from `state` (what `kreide sqlmigrate` prints), and
    the state after it."""
    with connection.schema_editor(collect_sql=True, atomic=migration.atomic) as editor:
        state = migration.apply(state, editor, collect_sql=True)
    prefix = ["BEGIN;"] if migration.atomic else []  # the analyser reads transactions from it
    return prefix + editor.collected_sql, state


def _problems(sql: list[str]) -> list[str]:
    errors, _ignored, _warnings = analyse_sql_statements(PostgresqlAnalyser, sql)
    return sorted(
        {f"{issue.message} ({issue.table or '?'}.{issue.column or '?'})" for issue in errors}
    )


def _kreide_migrations() -> dict[tuple[str, str], list[str]]:
    """Each non-initial migration of Kreide's apps (an initial one makes new tables) with
    what the analyser finds in it."""
    kreide = {
        config.label for config in apps.get_app_configs() if config.name.startswith("kreide.")
    }
    loader = MigrationExecutor(connection).loader
    found = {}
    for key, migration in loader.disk_migrations.items():
        if migration.app_label in kreide and not migration.initial:
            sql, _state = _sql(migration, loader.project_state(key, at_end=False))
            found[key] = _problems(sql)
    return found


def test_every_migration_lets_the_previous_release_run():
    found = _kreide_migrations()
    assert len(found) > 10  # the walk saw Kreide's migrations
    breaking = {key: problems for key, problems in found.items() if problems}
    new = {key: problems for key, problems in breaking.items() if key not in BEFORE_THE_RULE}
    assert new == {}, "expand now, contract one release later (docs/scale-out.md)"
    # A migration fixed or gone leaves the list.
    assert set(breaking) == BEFORE_THE_RULE


@functools.cache
def _today() -> ProjectState:
    loader = MigrationExecutor(connection).loader
    return loader.project_state(loader.graph.leaf_nodes())


def _next_release(operation) -> list[str]:
    """The SQL of a migration of the messenger with `operation`, after today's migrations."""
    migration = type("Migration", (migrations.Migration,), {"operations": [operation]})
    return _sql(migration("9999_next_release", "messenger"), _today().clone())[0]


@pytest.mark.parametrize(
    ("operation", "problem"),
    [
        (migrations.RemoveField("message", "body"), "DROPPING columns"),
        (migrations.RenameField("message", "body", "text"), "RENAMING columns"),
        (migrations.RenameModel("Message", "Post"), "RENAMING tables"),
        (
            migrations.AddField("message", "pinned", models.BooleanField(default=False)),
            "NOT NULL constraint on columns",
        ),
        (
            migrations.AlterField("message", "body", models.CharField(max_length=500)),
            "ALTERING columns",
        ),
    ],
)
def test_the_check_names_what_breaks_the_previous_release(operation, problem):
    sql = _next_release(operation)
    assert any(found.startswith(problem) for found in _problems(sql)), sql


def test_a_new_column_with_a_database_default_passes():
    """What the old code's INSERTs leave out, the database fills in: `db_default`."""
    added = models.BooleanField(default=False, db_default=False)
    sql = _next_release(migrations.AddField("message", "pinned", added))
    assert any("ADD COLUMN" in statement for statement in sql)
    assert _problems(sql) == []
