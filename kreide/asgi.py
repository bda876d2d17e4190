"""ASGI entry point: only the long-lived connections (messenger, the live notification bell).

It runs as a process of its own, so a messenger overload never blocks page views and a
page overload never stops chat.
"""

import contextvars
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kreide.settings")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402
from django.utils import translation  # noqa: E402

from kreide.core.fullgc import CollectAfterClosings  # noqa: E402
from kreide.messenger.auth import session_auth_stack  # noqa: E402
from kreide.messenger.routing import websocket_urlpatterns as messenger_sockets  # noqa: E402
from kreide.notifications.routing import (  # noqa: E402
    websocket_urlpatterns as notification_sockets,
)


def _build_url_conf() -> None:
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            get_resolver().reverse_dict  # noqa: B018 - built on first access


# The URL conf (it imports every app's views) and its reverse index in each language, built
# now: otherwise the first reverse() builds them, in the notification link of the first
# message sent (0.3 s, the morning's first messages waiting; several worker threads each
# build their own copy at once; bench/messenger --probe, docs/performance.md). In a context
# of its own: the resolvers' asgiref Locals it sets would stay in the start-up context that
# every connection copies, and asgiref re-homes each of them there after every
# sync_to_async call (126 objects, 16 KiB more per connection).
contextvars.copy_context().run(_build_url_conf)

# Everything loaded so far (Django, the URL conf, the models) lives as long as the process:
# moved out of the collector's reach, so full collections with thousands of open sockets
# walk only the connections' objects and pause the event loop for less.
gc.freeze()

# Full collections only when closed connections left garbage (kreide/core/fullgc.py): one
# over 10,000 connections stops the loop for seconds, the fan-out's p99 tail.
application = CollectAfterClosings(
    ProtocolTypeRouter(
        {
            "http": django_asgi,
            "websocket": AllowedHostsOriginValidator(
                session_auth_stack(URLRouter(messenger_sockets + notification_sockets))
            ),
        }
    )
)
