"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.parents.models import AbsenceReport, ParentInvitation, ParentLink
from kreide.transfer import registry

registry.register(ParentLink)
registry.register(ParentInvitation)  # only code hashes: printed slips stay valid after a move
registry.register(AbsenceReport)
