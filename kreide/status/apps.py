from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatusConfig(AppConfig):
    name = "kreide.status"
    label = "status"
    verbose_name = _("Status and incidents")
