from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NewsConfig(AppConfig):
    name = "kreide.news"
    label = "news"
    verbose_name = _("News and parent letters")

    def ready(self) -> None:
        from kreide.core import fragments, navigation
        from kreide.dashboard.registry import Section, register
        from kreide.news import dashboard, exports, services  # noqa: F401 - exports registers
        from kreide.news.models import News
        from kreide.news.uploads import NewsAttachmentPurpose
        from kreide.schools.access import participates
        from kreide.storage.uploads import register_purpose

        navigation.register(_("News"), "news:index", 12, lambda r: participates(r.user))
        register(
            Section(
                "news",
                _("School news"),
                "news/section.html",
                90,
                dashboard.news,
                entries=dashboard.news_entries,
                kept=dashboard.news_kept,
            )
        )
        fragments.feeds(News, lambda news: [services.news_scope(news.school_id)])
        register_purpose(NewsAttachmentPurpose())
