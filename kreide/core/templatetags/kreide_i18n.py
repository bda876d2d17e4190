"""Django's `i18n` template library, with `{% translate "a literal" %}` kept per language.

A page renders 5–30 `{% translate %}` tags of a fixed text, and Django resolves each on
every render: a lazy translation, the catalog lookup, localisation and escaping, ~75 Python
calls a tag. A tag with a literal text (and a literal context), no filters and no `as`
shows the same for the same language and escaping, so each such tag keeps what it
rendered. A `{% blocktranslate %}` works its message out of the tag's text once rather than
on every render; the rest (translation, variables) is Django's render. Registered as the
library `i18n` (settings.TEMPLATES), so templates still `{% load i18n %}`; every other tag
and filter is Django's own.
"""

from __future__ import annotations

from django import template
from django.core.signals import setting_changed
from django.template.base import Variable
from django.templatetags import i18n
from django.utils.translation import get_language

register = template.Library()
register.tags.update(i18n.register.tags)
register.filters.update(i18n.register.filters)

# Bumped when the translations may change (the settings Django's own translation caches
# are reset on), so nothing kept before is shown after.
_generation = [0]
_TRANSLATION_SETTINGS = frozenset({"LANGUAGES", "LANGUAGE_CODE", "LOCALE_PATHS", "INSTALLED_APPS"})


def _translations_changed(*, setting: str, **_kwargs: object) -> None:
    if setting in _TRANSLATION_SETTINGS:
        _generation[0] += 1


setting_changed.connect(_translations_changed)


def generation() -> int:
    """Moves when the translations or the languages may change (kept markup's key)."""
    return _generation[0]


class KeptTranslateNode(i18n.TranslateNode):
    def __init__(self, node: i18n.TranslateNode) -> None:
        super().__init__(node.filter_expression, node.noop, node.asvar, node.message_context)
        text, context = self.filter_expression, self.message_context
        self.constant = (
            not self.noop
            and self.asvar is None
            and not text.filters
            and isinstance(text.var, Variable)
            and isinstance(text.var.literal, str)
            and (context is None or (isinstance(context.var, str) and not context.filters))
        )
        self.kept: dict[tuple, str] = {}

    def render(self, context: template.Context) -> str:
        if not self.constant:
            return super().render(context)
        key = (_generation[0], get_language(), context.autoescape)
        value = self.kept.get(key)
        if value is None:
            value = self.kept[key] = super().render(context)
        return value


class KeptBlockTranslateNode(i18n.BlockTranslateNode):
    def __init__(self, node: i18n.BlockTranslateNode) -> None:
        super().__init__(
            node.extra_context,
            node.singular,
            node.plural,
            node.countervar,
            node.counter,
            node.message_context,
            node.trimmed,
            node.asvar,
            node.tag_name,
        )
        self.message = super().render_token_list(self.singular)

    def render_token_list(self, tokens: list) -> tuple[str, list[str]]:
        """The message and its variables, worked out of the tag's text once."""
        if tokens is not self.singular:  # the plural's
            return super().render_token_list(tokens)
        message, names = self.message
        return message, list(names)  # Django adds the plural's names to the list


@register.tag("blocktranslate")
@register.tag("blocktrans")
def do_block_translate(
    parser: template.base.Parser, token: template.base.Token
) -> KeptBlockTranslateNode:
    """Django's `{% blocktranslate %}`, its message worked out of the tag's text once."""
    return KeptBlockTranslateNode(i18n.do_block_translate(parser, token))


@register.tag("translate")
@register.tag("trans")
def do_translate(parser: template.base.Parser, token: template.base.Token) -> KeptTranslateNode:
    """Django's `{% translate %}`, kept per language where its text is a literal."""
    return KeptTranslateNode(i18n.do_translate(parser, token))
