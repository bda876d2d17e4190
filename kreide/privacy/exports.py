"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.privacy.models import AccessExport, Deactivation, RetentionRule, RetentionRun
from kreide.transfer import registry

registry.register(RetentionRule)
registry.register(RetentionRun)
registry.register(Deactivation)  # the retention clock of deactivated accounts moves along
registry.not_school_data(
    AccessExport, "a person's copy of their data: generated on request, gone after days"
)
