from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FilesConfig(AppConfig):
    name = "kreide.files"
    label = "files"
    verbose_name = _("Files")

    def ready(self) -> None:
        from kreide.accounts import events as account_events
        from kreide.core import fragments, navigation
        from kreide.core import health as core_health
        from kreide.dashboard.registry import Section, register
        from kreide.files import dashboard, health, services, signals
        from kreide.files.models import Share
        from kreide.files.uploads import FileUpload
        from kreide.storage.uploads import register_purpose

        navigation.register(
            _("Files"),
            "files:home",
            order=30,
            visible=lambda request: bool(getattr(request.user, "school_id", None)),
        )
        register(
            Section(
                "files-shared",
                _("Recently shared with me"),
                "files/section_shared.html",
                40,
                dashboard.shared_with_me,
                entries=dashboard.shared_entries,
                kept=dashboard.shared_kept,
                probes=dashboard.shared_probes,
            )
        )
        register_purpose(FileUpload())
        fragments.feeds(Share, services.share_scopes)
        account_events.users_created.subscribe(signals.users_created)
        core_health.register("files", _("Files"), health.check, order=30)
