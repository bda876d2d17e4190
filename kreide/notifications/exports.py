"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.notifications.models import Notification
from kreide.transfer import registry

registry.register(Notification)
