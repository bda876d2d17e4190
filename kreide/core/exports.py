"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.core.models import AuditEntry
from kreide.transfer import registry

# target_type/target_id name any object by label and key: the export rewrites the key.
registry.register(AuditEntry, object_refs=[("target_type", "target_id")])
