"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.files.models import (
    AppPassword,
    DavLock,
    DeadProperty,
    FileSettings,
    GroupWriter,
    Node,
    PublicLink,
    Share,
    Space,
)
from kreide.transfer import registry

registry.register(FileSettings)
registry.register(Space)
# Node.path lists the keys of the node's ancestors and its own: "/12/57/90/".
registry.register(Node, keys={"path": registry.Keys("files.node", enclosed=True)})
registry.register(GroupWriter)
registry.register(Share)
registry.register(PublicLink)  # links keep working after the move: same token
registry.register(AppPassword)  # WebDAV clients keep working: same secret hash
registry.register(DeadProperty)
registry.not_school_data(DavLock, "WebDAV locks expire within minutes; clients take new ones")
