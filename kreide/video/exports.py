"""What a school export carries from this app (see kreide/transfer/registry.py).

Media servers belong to a deployment, not a school: lessons and admissions arrive without
a server and are placed on the target's servers when they next start.
"""

from kreide.transfer import registry
from kreide.video.models import Admission, ChatMessage, VideoLesson

_SERVER = "the Janus server and room belong to the source deployment"
registry.register(VideoLesson, omit={"server": _SERVER, "room_id": _SERVER, "room_secret": _SERVER})
registry.register(Admission, omit={"server": _SERVER, "token": _SERVER})  # who attended
registry.register(ChatMessage)
