"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.api.models import ApiToken
from kreide.transfer import registry

registry.register(ApiToken)  # scripts keep working after the move: same secret hash
