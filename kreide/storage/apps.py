from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StorageConfig(AppConfig):
    name = "kreide.storage"
    label = "storage"
    verbose_name = _("File storage and uploads")

    def ready(self) -> None:
        from kreide.api import registry
        from kreide.core import errors
        from kreide.storage import openapi, unreachable

        registry.register_document(paths=openapi.PATHS)
        errors.refuse_as(unreachable.as_refusal)
