"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.schools.models import Group, Membership, School, Subject
from kreide.transfer import registry

registry.register(School)
registry.register(Subject)
registry.register(Group)
registry.register(Membership)
