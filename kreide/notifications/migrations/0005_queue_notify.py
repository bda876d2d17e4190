"""On PostgreSQL the queue tells the worker when it changes: a notification queued (any
INSERT) or a push held (an UPDATE setting `push_held_until`) sends a NOTIFY on
`kreide_notifications` when its transaction commits, whoever writes it. The worker
(`kreide notifications-work`) waits on it with LISTEN instead of asking every half
second. SQLite has no such thing: the worker polls there."""

from django.db import migrations

CREATE = [
    """
CREATE FUNCTION notifications_queue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('kreide_notifications', '');
  RETURN NULL;
END
$$""",
    """
CREATE TRIGGER notifications_queue_changed
  AFTER INSERT OR UPDATE OF push_held_until ON notifications_notification
  FOR EACH STATEMENT EXECUTE FUNCTION notifications_queue_changed()""",
]
DROP = [
    "DROP TRIGGER IF EXISTS notifications_queue_changed ON notifications_notification",
    "DROP FUNCTION IF EXISTS notifications_queue_changed()",
]


def _on_postgresql(statements: list[str]):
    def run(apps, schema_editor) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_preference_sources")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP))]
