"""What a school export carries from this app (see kreide/transfer/registry.py)."""

from kreide.messenger.models import Attachment, Message, Room, RoomMember
from kreide.transfer import registry

# A direct room's key is "<smaller user id>-<larger user id>".
registry.register(Room, keys={"direct_key": registry.Keys("accounts.user", "-", ascending=True)})
# Read state is the id of the last message read: unread counts stay as they were.
registry.register(RoomMember, watermarks={"last_read_id": "messenger.message"})
registry.register(Attachment)
registry.register(Message)
