"""Expand: a nullable column, so the previous release's INSERTs (which leave it out) go on
working. In a real release this is messenger's AddField; here the column belongs to
another app's model, so the schema change is written out."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("messenger", "0003_roommember_notifications_off")]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE messenger_message ADD COLUMN stored_by_node varchar(64) NULL",
            reverse_sql="ALTER TABLE messenger_message DROP COLUMN stored_by_node",
        )
    ]
