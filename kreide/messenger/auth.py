"""Who is on a WebSocket: the Django session from the cookie, resolved in the thread pool.

channels' AuthMiddlewareStack resolves every user in one shared thread, so at 8:00 a whole
school's handshakes queue behind each other; each lookup here is independent and runs in
parallel.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser


def user_for_session(session_key: str | None) -> Any:
    """The signed-in user of this session (AnonymousUser when none, or when the account
    was deactivated: a former student's read-only session, accounts.gate, has no socket)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(SimpleNamespace(session=store))
    return user if user.is_active else AnonymousUser()


class SessionAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        session_key = scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
        user = await database_sync_to_async(user_for_session, thread_sensitive=False)(session_key)
        return await super().__call__({**scope, "user": user}, receive, send)


def session_auth_stack(inner) -> CookieMiddleware:
    return CookieMiddleware(SessionAuthMiddleware(inner))
