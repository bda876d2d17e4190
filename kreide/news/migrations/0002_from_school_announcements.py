"""School news moves from schools.Announcement (everyone at the school) to news.News,
already announced: nobody is notified of old news."""

from django.db import migrations


def forwards(apps, schema_editor):
    Announcement = apps.get_model("schools", "Announcement")
    News = apps.get_model("news", "News")
    News._base_manager.bulk_create(
        [
            News(
                school_id=old.school_id,
                title=old.title,
                body=old.body,
                author_id=old.author_id,
                audience="school",
                published_at=old.published_at,
                announced_at=old.published_at,
            )
            for old in Announcement._base_manager.order_by("pk")
        ],
        batch_size=1000,
    )


def backwards(apps, schema_editor):
    Announcement = apps.get_model("schools", "Announcement")
    News = apps.get_model("news", "News")
    Announcement._base_manager.bulk_create(
        [
            Announcement(
                school_id=news.school_id,
                title=news.title,
                body=news.body,
                author_id=news.author_id,
                published_at=news.published_at,
            )
            for news in News._base_manager.filter(audience="school").order_by("pk")
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [("news", "0001_initial"), ("schools", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
