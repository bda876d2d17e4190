"""Template helpers of the task pages."""

from decimal import Decimal

from django import template
from django.utils.formats import number_format
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

register = template.Library()

_BADGES = {
    "open": ("badge", _("open")),
    "draft": ("badge warn", _("not handed in yet")),
    "submitted": ("badge ok", _("submitted")),
    "returned": ("badge warn", _("returned for revision")),
    "reviewed": ("badge ok", _("reviewed")),
}
_OVERDUE = ("badge bad", _("overdue"))


@register.simple_tag
def state_badge(state: str) -> str:
    """The badge of a student's task state; a tag rather than an include, since the task
    list shows one per row."""
    css, label = _BADGES.get(state, _OVERDUE)
    return format_html('<span class="{}">{}</span>', css, label)


@register.filter
def points(value: Decimal | None) -> str:
    """8 rather than "8,00", 7,5 rather than "7,50": as many decimals as the teacher gave."""
    if value is None:
        return ""
    return number_format(value.normalize(), use_l10n=True)
