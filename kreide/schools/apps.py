from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchoolsConfig(AppConfig):
    name = "kreide.schools"
    label = "schools"
    verbose_name = _("Schools, classes and groups")

    def ready(self) -> None:
        from kreide.core import fragments
        from kreide.dashboard.registry import Section, register
        from kreide.schools import dashboard
        from kreide.schools.models import Announcement

        register(Section("news", _("School news"), "schools/section_news.html", 90, dashboard.news))
        fragments.feeds(Announcement, lambda news: [dashboard.news_scope(news.school_id)])
        register(
            Section(
                "groups",
                _("My classes and groups"),
                "schools/section_groups.html",
                80,
                dashboard.my_groups,
            )
        )
