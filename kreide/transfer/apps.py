from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class TransferConfig(AppConfig):
    name = "kreide.transfer"
    label = "transfer"
    verbose_name = _("Export and import")

    def ready(self) -> None:
        from kreide.transfer import registry

        registry.autodiscover()
        checks.register(_export_coverage)


def _export_coverage(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A warning (not an error: a module being written must still run) per model that
    holds school data but would be missing from school exports."""
    from kreide.transfer import registry

    try:
        problems = registry.uncovered_models()
    except registry.RegistryError as error:
        return [checks.Warning(str(error), id="kreide_transfer.W002")]
    return [checks.Warning(problem, id="kreide_transfer.W001") for problem in problems]
