"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.schedule.models import StartWindow
from kreide.transfer import registry

registry.register(StartWindow)  # the staggered start times are the school's own settings
