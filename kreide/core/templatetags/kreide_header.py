"""The site header every page carries (and the live bell's script), rendered once per
what it shows.

The header (navigation, account links, language switch) is the same for every user of a
role, school and language on a page: it is rendered once per process for each such
combination, with placeholders for what is the request's own (the CSRF token, the
account's name, the page's address), which are put in on every page.
"""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from kreide.core import staticfiles
from kreide.core.kept import KeptMarkup
from kreide.core.navigation import urls_of_request
from kreide.core.templatetags import kreide_i18n

register = template.Library()

_KEPT = KeptMarkup(("csrf_token", "account_name", "next_path"), limit=1024)
# What the header reads of `school`, resolved as the template does (the sign-in page's
# `school` is a name, whose `.name` the template shows as nothing).
_SCHOOL_NAME = template.Variable("school.name")


def _school_name(context: template.Context) -> object:
    try:
        return _SCHOOL_NAME.resolve(context)
    except template.VariableDoesNotExist:
        return None


def _key(context: template.Context) -> tuple:
    user = context.get("user")
    return (
        get_language(),
        *urls_of_request(),
        # Not the languages themselves: hashing their lazy names cost ~90 Python calls.
        kreide_i18n.generation(),
        bool(user is not None and user.is_authenticated),
        bool(getattr(user, "school_id", None)),
        bool(context.get("school")),
        _school_name(context),
        tuple(
            [
                (i["label"], i["url"], i["active"], i["count"])
                for i in context.get("nav_items") or ()
            ]
        ),
        context.get("nav_count"),
    )


@register.simple_tag(takes_context=True)
def site_header(context: template.Context) -> SafeString:
    user, request = context.get("user"), context.get("request")
    account = ""
    if user is not None and user.is_authenticated:
        account = user.get_full_name() or user.username
    next_path = request.get_full_path() if request is not None else ""
    csrf = context.get("csrf_token")
    if not csrf or csrf == "NOTPROVIDED":  # rare (no CSRF context): not kept
        with context.push(account_name=account, next_path=next_path):
            return _template(context, "core/header.html").render(context)

    def render(stand_ins: dict[str, str]) -> str:
        with context.push(**stand_ins):
            return _template(context, "core/header.html").render(context)

    return _KEPT.get(
        _key(context), render, csrf_token=str(csrf), account_name=account, next_path=next_path
    )


_LIVE = KeptMarkup((), limit=256)  # per language and socket address: few


@register.simple_tag(takes_context=True)
def live_script(context: template.Context) -> SafeString | str:
    """The live bell's script (`notifications_live`, kreide.notifications.context), kept
    per what it shows: its addresses, the language and the static files' generation."""
    live = context.get("notifications_live")
    if not live:
        return ""
    return _LIVE.get(
        (
            get_language(),
            kreide_i18n.generation(),
            staticfiles.generation(),
            context.autoescape,
            tuple(live.items()),
        ),
        lambda _stand_ins: _template(context, "core/live_script.html").render(
            template.Context({"notifications_live": live}, autoescape=context.autoescape)
        ),
    )


def _template(context: template.Context, name: str) -> template.base.Template:
    """Looked up only to render: finding a template costs ~11 Python calls even from the
    cached loader, on every page."""
    return context.template.engine.get_template(name)
