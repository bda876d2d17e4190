from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessengerConfig(AppConfig):
    name = "kreide.messenger"
    label = "messenger"
    verbose_name = _("Messenger")

    def ready(self) -> None:
        from kreide.accounts import events as account_events
        from kreide.core import health as core_health
        from kreide.core import navigation, pagecache
        from kreide.dashboard.registry import Section, register
        from kreide.messenger import dashboard, health, services, signals, uploads
        from kreide.schools import events as school_events
        from kreide.storage.uploads import register_purpose

        navigation.register(
            _("Messages"),
            "messenger:index",
            order=30,
            count=lambda request: services.unread_total(request.user, request),
        )
        register(
            Section(
                "messenger",
                _("Messages"),
                "messenger/section.html",
                20,
                dashboard.unread,
                kept=dashboard.unread_kept,
            )
        )
        register_purpose(uploads.MessageAttachment())
        pagecache.register(pagecache.user_keys(services.unread_key))
        school_events.membership_changed.subscribe(signals.membership_changed)
        for event in (
            school_events.group_created,
            school_events.group_changed,
            school_events.group_active_changed,
        ):
            event.subscribe(signals.group_changed)
        account_events.user_active_changed.subscribe(signals.user_active_changed)
        core_health.register("messenger", _("Messenger"), health.check, order=40)
