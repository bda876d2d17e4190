from django.template import Context, Engine, engines
from django.template.base import NodeList

from kreide.core.templatetags.kreide_extends import KeptBlockNode, KeptBlocksExtendsNode
from tests.recording import record_calls

TEMPLATES = {
    "root.html": "<{% block title %}root title{% endblock %}|{% block body %}"
    "{% block inner %}root inner{% endblock %}{% endblock %}|{% block tail %}{% endblock %}>",
    "middle.html": "{% extends 'root.html' %}{% block title %}middle {{ block.super }}"
    "{% endblock %}{% block tail %}middle tail {{ who }}{% endblock %}",
    "child.html": "{% extends 'middle.html' %}{% block inner %}child {{ block.super }}"
    "{% endblock %}{% block title %}child {{ block.super }}{% endblock %}",
    "plain.html": "{% extends 'root.html' %}",
    "empty.html": "<{% block a %}{% endblock %}|{% block b %}b{% endblock %}|{% block c %}"
    "{% endblock %}>",
    "filled.html": "{% extends 'empty.html' %}{% block a %}a {{ block.super }}{% endblock %}"
    "{% block b %}{% endblock %}",
    "refilled.html": "{% extends 'filled.html' %}{% block b %}{{ block.super }}B{% endblock %}"
    "{% block c %}{% endblock %}",
}


def _engines():
    """Kreide's engine (the tag as a builtin, as in settings) and Django's own."""
    locmem = ("django.template.loaders.locmem.Loader", TEMPLATES)
    loaders = [("django.template.loaders.cached.Loader", [locmem])]
    builtins = engines["django"].engine.builtins
    assert "kreide.core.templatetags.kreide_extends" in builtins
    kreide = Engine(loaders=loaders, builtins=["kreide.core.templatetags.kreide_extends"])
    django = Engine(loaders=loaders)
    return kreide, django


def test_pages_render_as_with_djangos_extends():
    kreide, django = _engines()
    for name in ("child.html", "middle.html", "plain.html", "filled.html", "refilled.html"):
        assert isinstance(kreide.get_template(name).nodelist[0], KeptBlocksExtendsNode)
        for who in ("a", "<b>"):
            for _ in range(2):  # the first render finds the blocks, the second reuses them
                ours = kreide.get_template(name).render(Context({"who": who}))
                assert ours == django.get_template(name).render(Context({"who": who}))
    assert kreide.get_template("child.html").render(Context({"who": "<b>"})) == (
        "<child middle root title|child root inner|middle tail &lt;b&gt;>"
    )


def test_the_roots_blocks_are_found_once_per_template(monkeypatch):
    kreide, _ = _engines()
    page = kreide.get_template("child.html")
    page.render(Context({}))
    walks = record_calls(monkeypatch, NodeList, "get_nodes_by_type")
    assert page.render(Context({})).startswith("<child middle root title|")
    assert walks == []


def test_empty_blocks_render_as_with_djangos_block_and_push_nothing(monkeypatch):
    kreide, django = _engines()
    expected = {"empty.html": "<|b|>", "filled.html": "<a ||>", "refilled.html": "<a |B|>"}
    for name, page in expected.items():
        assert kreide.get_template(name).render(Context({})) == page
        assert django.get_template(name).render(Context({})) == page
    assert all(
        isinstance(node, KeptBlockNode)
        for node in kreide.get_template("empty.html").nodelist
        if node.token.token_type.name == "BLOCK"
    )
    pushes = []
    original = Context.push

    def counted(context, *args, **kwargs):
        pushes.append(args)
        return original(context, *args, **kwargs)

    monkeypatch.setattr(Context, "push", counted)
    assert kreide.get_template("empty.html").render(Context({})) == "<|b|>"
    assert len(pushes) == 1  # the block b, not a and c
