"""Template helpers of the messenger's pages."""

from __future__ import annotations

from functools import partial

from django import template
from django.utils.safestring import SafeString, mark_safe

from kreide.core.kept import KeptMarkup, shown_in

register = template.Library()

# A room's page below the header is the same for everyone in the room who may do the same
# (write, moderate; muted or not, notified or not): at 8:00 a class opens its room. Kept
# per process for what it shows, keyed by those values themselves, with stand-ins for each
# request's own: the CSRF token and the account's id.
_KEPT = KeptMarkup(("csrf_token", "user_pk"), limit=1024)


@register.simple_tag(takes_context=True)
def room_page(context: template.Context) -> SafeString:
    """`messenger/_room.html` for the room and member in `context`, kept (see `_KEPT`)."""
    page = context.template.engine.get_template("messenger/_room.html")
    user_pk, csrf = context["user"].pk, context.get("csrf_token")
    if not csrf or csrf == "NOTPROVIDED":  # rare (no CSRF context): not kept
        with context.push(user_pk=user_pk):
            return mark_safe(page.render(context))  # noqa: S308 - a rendered template
    room, member = context["room"], context["member"]
    key = (
        *shown_in(),
        room.pk,
        room.kind,
        room.read_only,
        context["title"],
        member.is_moderator,
        member.notifications_off,
        member.muted,
        context["can_write"],
        context["realtime_url"],
        context["resync_seconds"],
        context["max_length"],
    )
    return _KEPT.get(key, partial(_render, context, page), csrf_token=str(csrf), user_pk=user_pk)


def _render(context: template.Context, page: template.Template, stand_ins: dict[str, str]) -> str:
    """The part to keep, with the request's own as `stand_ins`."""
    with context.push(**stand_ins):
        return page.render(context)
