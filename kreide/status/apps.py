from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatusConfig(AppConfig):
    name = "kreide.status"
    label = "status"
    verbose_name = _("Status and incidents")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from kreide.accounts import gate
        from kreide.core import banners, pagecache
        from kreide.status import services
        from kreide.status.models import Incident

        gate.open_to_former_students("status:page")  # public anyway

        banners.register(services.incident_banners)
        pagecache.register(lambda request: [services.INCIDENTS_KEY])
        # Admin edits reach the cache too (after commit, like every other write).
        post_save.connect(services.incident_changed, sender=Incident)
        post_delete.connect(services.incident_changed, sender=Incident)
