from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "kreide.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from kreide.core import health, navigation, pagecache
        from kreide.messenger import events as messenger_events
        from kreide.news import events as news_events
        from kreide.notifications import (
            delivery,
            exports,  # noqa: F401 - registers the models
            services,
        )
        from kreide.notifications import health as notification_health
        from kreide.notifications.context import live_off_key
        from kreide.parents import events as parent_events
        from kreide.tasks import events as task_events
        from kreide.timetable import events as timetable_events
        from kreide.video import events as video_events

        navigation.register(
            _("Notifications"),
            "notifications:index",
            order=90,
            count=lambda request: services.unread_count(request.user, request),
        )
        pagecache.register(pagecache.user_keys(delivery.unread_key))
        pagecache.register(pagecache.user_keys(live_off_key))
        task_events.task_created.subscribe(services.on_task_created)
        task_events.feedback_given.subscribe(services.on_feedback_given)
        parent_events.absence_reported.subscribe(services.on_absence_reported)
        parent_events.absence_acknowledged.subscribe(services.on_absence_acknowledged)
        news_events.news_published.subscribe(services.on_news_published)
        news_events.letter_reminder.subscribe(services.on_letter_reminder)
        messenger_events.message_sent.subscribe(services.on_message_sent)
        timetable_events.substitutions_added.subscribe(services.on_substitutions_added)
        video_events.lesson_started.subscribe(services.on_lesson_started)
        health.register(
            "notifications", _("Notifications"), notification_health.check, order=85, degrades=True
        )
