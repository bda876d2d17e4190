from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StorageConfig(AppConfig):
    name = "kreide.storage"
    label = "storage"
    verbose_name = _("File storage and uploads")

    def ready(self) -> None:
        from kreide.api import registry
        from kreide.storage import openapi

        registry.register_document(paths=openapi.PATHS)
