from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kreide.core"
    label = "core"
    verbose_name = _("Kreide core")

    def ready(self) -> None:
        from django.urls import register_converter

        from kreide.core import cache, csrf, health
        from kreide.core.ids import IdConverter, bound_integer_lookups

        # Every id in a URL is `<id:…>` (tests/core/test_ids.py checks that no URL takes
        # Django's unbounded `int` converter); queries find nothing for larger numbers.
        register_converter(IdConverter, "id")
        bound_integer_lookups()
        csrf.install()
        health.register("cache", _("Cache (Redis)"), cache.health_check, order=70, degrades=True)
