"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.notifications.models import Notification, Preferences, PushSubscription, QuietHours
from kreide.transfer import registry

registry.register(Notification)
registry.register(Preferences)
registry.register(QuietHours)
# A subscription is one browser's registration with a push service for this deployment's
# VAPID key, which stays behind: at the new home the push service would refuse every push
# to it, so the browsers subscribe again there.
registry.not_school_data(
    PushSubscription, "bound to a browser and this deployment's VAPID key; browsers subscribe again"
)
