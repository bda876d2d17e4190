from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessengerConfig(AppConfig):
    name = "kreide.messenger"
    label = "messenger"
    verbose_name = _("Messenger")
