from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.db import models
from django.db.models.signals import pre_save

COLUMN = "stored_by_node"


def _stamp(sender, instance, **kwargs) -> None:
    if getattr(instance, COLUMN) is None:
        setattr(instance, COLUMN, settings.NODE_NAME)


class NextReleaseConfig(AppConfig):
    name = "tests.deploy.next_release"
    label = "next_release"

    def ready(self) -> None:
        from kreide.messenger.models import Message

        # The new field on an existing model, as the next release's models.py would have it.
        Message.add_to_class(COLUMN, models.CharField(max_length=64, null=True, blank=True))
        pre_save.connect(_stamp, sender=Message)
