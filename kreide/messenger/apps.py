from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessengerConfig(AppConfig):
    name = "kreide.messenger"
    label = "messenger"
    verbose_name = _("Messenger")

    def ready(self) -> None:
        from kreide.core import events, navigation
        from kreide.dashboard.registry import Section, register
        from kreide.messenger import dashboard, services, signals, uploads
        from kreide.storage.uploads import register_purpose

        navigation.register(
            _("Messages"),
            "messenger:index",
            order=30,
            count=lambda request: services.unread_total(request.user),
        )
        register(
            Section("messenger", _("Messages"), "messenger/section.html", 20, dashboard.unread)
        )
        register_purpose(uploads.MessageAttachment())
        events.subscribe("schools.membership_changed", signals.membership_changed)
        for event in ("group_created", "group_changed", "group_active_changed"):
            events.subscribe(f"schools.{event}", signals.group_changed)
        events.subscribe("accounts.user_active_changed", signals.user_active_changed)
