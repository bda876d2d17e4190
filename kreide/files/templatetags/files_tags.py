"""Template helpers of the files pages."""

from __future__ import annotations

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

register = template.Library()

# "6 bytes of 100.0 MB used" per language and figures: most spaces show the same few
# (an empty folder of the school's quota), and the two sizes cost ~300 Python calls a row.
_usage: dict[tuple[str | None, int, int], SafeString] = {}
_LIMIT = 4096  # figures kept; a full table starts over


@register.simple_tag
def space_usage(used: int, quota: int) -> SafeString:
    """What `{% blocktranslate with used=used|filesizeformat quota=quota|filesizeformat %}`
    showed, kept per process."""
    key = (get_language(), used, quota)
    text = _usage.get(key)
    if text is None:
        if len(_usage) >= _LIMIT:
            _usage.clear()
        sizes = {
            "used": conditional_escape(filesizeformat(used)),
            "quota": conditional_escape(filesizeformat(quota)),
        }
        # The sizes escaped, the translation as blocktranslate leaves it.
        text = _usage[key] = mark_safe(gettext("%(used)s of %(quota)s used") % sizes)  # noqa: S308
    return text
