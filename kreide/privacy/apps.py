from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "kreide.privacy"
    label = "privacy"
    verbose_name = _("Privacy")

    def ready(self) -> None:
        from kreide.accounts import events as account_events
        from kreide.accounts import gate
        from kreide.privacy import exports, retention, services  # noqa: F401 - registers

        # Graduates and leavers take a copy of their data after leaving (docs/privacy.md).
        gate.open_to_former_students("privacy:mine", "privacy:copies", "privacy:download")
        account_events.user_active_changed.subscribe(retention.deactivation_changed)
