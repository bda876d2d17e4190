"""Links every page carries (account, language switch), reversed once per process."""

from django import template

from kreide.core.navigation import fixed_url as _fixed_url

register = template.Library()


@register.simple_tag
def fixed_url(url_name: str) -> str:
    """Like {% url %} for a URL without arguments, without reversing it on every page."""
    return _fixed_url(url_name)
