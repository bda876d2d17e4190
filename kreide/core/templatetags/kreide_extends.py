"""Django's `{% extends %}`, with the root template's blocks worked out once per template,
and Django's `{% block %}`, with nothing done for a block that shows nothing.

Django's ExtendsNode walks every node of the root template (`base.html`) on every render
to find its blocks (`get_nodes_by_type(BlockNode)`, ~230 Python calls a page), though a
compiled template's blocks never change. This one keeps them on the compiled template.
A block renders its content in a context pushed for it, with a copy of itself made for
`{{ block.super }}` (~20 Python calls a block): `base.html`'s `head` and `scripts`, which
most pages leave empty, cost that on every page for nothing. Registered as a builtin
(settings.TEMPLATES), so both take the place of Django's tags in every template;
everything else is Django's.
"""

from __future__ import annotations

from django import template
from django.template.base import Template, TextNode
from django.template.context import Context
from django.template.loader_tags import (
    BLOCK_CONTEXT_KEY,
    BlockContext,
    BlockNode,
    ExtendsNode,
    do_block,
    do_extends,
)
from django.utils.safestring import SafeString

register = template.Library()

_NOT_ROOT: dict = {}  # kept for a parent that itself extends: no blocks of its own to add


def _root_blocks(parent: Template) -> dict[str, BlockNode]:
    """The blocks of `parent` if it is the root (its first tag is not `{% extends %}`)."""
    blocks = parent.__dict__.get("_kreide_root_blocks")
    if blocks is None:
        blocks = _NOT_ROOT
        for node in parent.nodelist:
            if not isinstance(node, TextNode):
                if not isinstance(node, ExtendsNode):
                    blocks = {n.name: n for n in parent.nodelist.get_nodes_by_type(BlockNode)}
                break
        parent._kreide_root_blocks = blocks
    return blocks


class KeptBlocksExtendsNode(ExtendsNode):
    def render(self, context: Context) -> SafeString:
        compiled_parent = self.get_parent(context)
        if BLOCK_CONTEXT_KEY not in context.render_context:
            context.render_context[BLOCK_CONTEXT_KEY] = BlockContext()
        block_context = context.render_context[BLOCK_CONTEXT_KEY]
        block_context.add_blocks(self.blocks)
        block_context.add_blocks(_root_blocks(compiled_parent))
        # Template._render, as Django's does, so the parser context stays the same.
        with context.render_context.push_state(compiled_parent, isolated_context=False):
            return compiled_parent._render(context)


@register.tag("extends")
def kept_extends(parser: template.base.Parser, token: template.base.Token) -> ExtendsNode:
    node = do_extends(parser, token)
    return KeptBlocksExtendsNode(node.nodelist, node.parent_name, node.template_dirs)


class KeptBlockNode(BlockNode):
    def render(self, context: Context) -> SafeString:
        # The block that would render: the innermost override, else this one.
        block_context = context.render_context.get(BLOCK_CONTEXT_KEY)
        block = block_context.get_block(self.name) if block_context is not None else None
        if not (block or self).nodelist:
            return SafeString("")
        return super().render(context)


@register.tag("block")
def kept_block(parser: template.base.Parser, token: template.base.Token) -> BlockNode:
    node = do_block(parser, token)
    return KeptBlockNode(node.name, node.nodelist)
