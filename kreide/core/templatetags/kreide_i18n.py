"""Django's `i18n` template library, with `{% translate "a literal" %}` kept per language.

A page renders 5–30 `{% translate %}` tags of a fixed text, and Django resolves each on
every render: a lazy translation, the catalog lookup, localisation and escaping, ~75 Python
calls a tag. A tag with a literal text (and a literal context), no filters and no `as`
shows the same for the same language and escaping, so each such tag keeps what it
rendered. A `{% blocktranslate %}` without a plural keeps its message and translation per
language; its variables are put in on every render, as Django does. Registered as the
library `i18n` (settings.TEMPLATES), so templates still `{% load i18n %}`; every other tag
and filter is Django's own.
"""

from __future__ import annotations

from django import template
from django.core.signals import setting_changed
from django.template.base import Variable, render_value_in_context
from django.templatetags import i18n
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, pgettext

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
        context = self.message_context
        self.constant = not (self.plural and self.countervar and self.counter) and (
            context is None or (isinstance(context.var, str) and not context.filters)
        )
        # What Django works out of the tag's text on every render.
        self.message, self.names = self.render_token_list(self.singular)
        self.kept: dict[tuple, str] = {}

    def render(self, context: template.Context, nested: bool = False) -> str:
        if not self.constant or nested:
            return super().render(context, nested)
        key = (_generation[0], get_language())
        translated = self.kept.get(key)
        if translated is None:
            message_context = self.message_context and self.message_context.var
            translated = self.kept[key] = (
                pgettext(message_context, self.message)
                if message_context
                else gettext(self.message)
            )
        context.update({var: val.resolve(context) for var, val in self.extra_context.items()})
        missing = context.template.engine.string_if_invalid
        data = {
            name: render_value_in_context(
                context[name]
                if name in context
                else (missing % name if "%s" in missing else missing),
                context,
            )
            for name in self.names
        }
        context.pop()
        try:
            result = translated % data
        except (KeyError, ValueError):  # a broken translation: Django's way out
            return super().render(context)
        if self.asvar:
            context[self.asvar] = SafeString(result)
            return ""
        return result


@register.tag("blocktranslate")
@register.tag("blocktrans")
def do_block_translate(
    parser: template.base.Parser, token: template.base.Token
) -> KeptBlockTranslateNode:
    """Django's `{% blocktranslate %}`, its message and translation kept per language
    where it has no plural and no context from a variable."""
    return KeptBlockTranslateNode(i18n.do_block_translate(parser, token))


@register.tag("translate")
@register.tag("trans")
def do_translate(parser: template.base.Parser, token: template.base.Token) -> KeptTranslateNode:
    """Django's `{% translate %}`, kept per language where its text is a literal."""
    return KeptTranslateNode(i18n.do_translate(parser, token))
