"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.schoolyear.models import ClassException, Leaver, RolloverRule, SchoolYear
from kreide.transfer import registry

registry.register(SchoolYear)
registry.register(RolloverRule)
registry.register(ClassException)
registry.register(Leaver)
