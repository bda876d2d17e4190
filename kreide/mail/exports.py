"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.mail.models import MailPolicy
from kreide.transfer import registry

registry.register(MailPolicy)
