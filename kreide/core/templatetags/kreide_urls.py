"""Links every page carries (account, language switch) or carries on every visit (a
room's actions), reversed once per process."""

from django import template

from kreide.core.navigation import fixed_url as _fixed_url

register = template.Library()


@register.simple_tag
def fixed_url(url_name: str, *args: int | str) -> str:
    """Like {% url %} (positional arguments only), without reversing it on every page."""
    return _fixed_url(url_name, *args)
