"""`{% translate %}` of a literal is kept per language; every other form is Django's."""

import io

from django.core.management import call_command
from django.template import Context, Engine, engines
from django.templatetags.i18n import BlockTranslateNode
from django.utils import translation


def _render(source: str, language: str, **values: object) -> str:
    template = engines["django"].from_string("{% load i18n %}" + source)
    with translation.override(language):
        return template.render(values)


def test_a_kept_translation_follows_the_language():
    template = engines["django"].from_string('{% load i18n %}{% translate "Save text" %}')
    rendered = []
    for language in ("de", "en", "de", "en"):
        with translation.override(language):
            rendered.append(template.render({}))
    assert rendered == ["Text speichern", "Save text", "Text speichern", "Save text"]


def test_variables_contexts_and_as_are_djangos():
    assert _render("{% translate text %}", "de", text="Save text") == "Text speichern"
    assert _render("{% translate text %}", "de", text="Hand in") == "Abgeben"
    assert _render('{% translate "Grade" context "school mark" %}', "de") == "Note"
    assert _render('{% translate "Save text" as label %}[{{ label }}]', "de") == "[Text speichern]"
    assert _render('{% translate "Save text" noop %}', "de") == "Save text"


SOURCES = (
    '{% translate "Save text" %}',
    '{% translate "Tom & <Jerry>" %}',
    '{% autoescape off %}{% translate "Tom & <Jerry>" %}{% endautoescape %}',
    '{% translate "Grade" context "school mark" %}',
    "{% translate text %}",
    '{% translate "100%% sure" %}',
)


def test_the_kept_library_renders_what_djangos_renders():
    plain = Engine(libraries={"i18n": "django.templatetags.i18n"}, app_dirs=True)
    for source in SOURCES:
        for language in ("de", "en", "de"):
            with translation.override(language):
                expected = plain.from_string("{% load i18n %}" + source).render(
                    Context({"text": "Tom & <Jerry>"})
                )
            assert _render(source, language, text="Tom & <Jerry>") == expected, source


def test_the_system_checks_stay_silent():
    """Operators see `kreide migrate` and `make run` start without warnings."""
    output = io.StringIO()
    call_command("check", fail_level="WARNING", stdout=output, stderr=output)
    assert "no issues" in output.getvalue()


GREETING = "{% blocktranslate with name=text %}Hello, {{ name }}!{% endblocktranslate %}"
BLOCK_SOURCES = (
    "{% blocktranslate %}Save text{% endblocktranslate %}",
    GREETING,
    "{% blocktranslate with name=text|default:'x' %}Hello, {{ name }}!{% endblocktranslate %}",
    "{% blocktranslate %}Hello, {{ text }}!{% endblocktranslate %}",
    "{% blocktranslate %}Hello, {{ nobody }}!{% endblocktranslate %}",
    "{% blocktranslate trimmed %}\n  Save\n  text\n{% endblocktranslate %}",
    '{% blocktranslate context "school mark" %}Grade{% endblocktranslate %}',
    "{% blocktranslate context text %}Grade{% endblocktranslate %}",
    "{% blocktranslate asvar said %}Hello, {{ text }}!{% endblocktranslate %}[{{ said }}]",
    "{% blocktranslate %}100% of {{ text }}{% endblocktranslate %}",
    "{% autoescape off %}{% blocktranslate %}Hello, {{ text }}!{% endblocktranslate %}"
    "{% endautoescape %}",
    "{% blocktranslate count n=count %}One file{% plural %}{{ n }} files{% endblocktranslate %}",
)


def test_the_kept_blocktranslate_renders_what_djangos_renders():
    plain = Engine(libraries={"i18n": "django.templatetags.i18n"}, app_dirs=True)
    for source in BLOCK_SOURCES:
        # One template for all languages: what a node keeps is kept per language.
        kept = engines["django"].from_string("{% load i18n %}" + source)
        for language in ("de", "en", "de"):
            for text in ("Tom & <Jerry>", "Ada"):
                values = {"text": text, "count": 2}
                with translation.override(language):
                    expected = plain.from_string("{% load i18n %}" + source).render(Context(values))
                    assert kept.render(values) == expected, source
    assert _render(GREETING, "de", text="<b>") == "Hallo, &lt;b&gt;!"
    assert _render(GREETING, "en", text="<b>") == "Hello, &lt;b&gt;!"


def test_the_blocktranslate_message_is_worked_out_once(monkeypatch):
    greeting = engines["django"].from_string("{% load i18n %}" + GREETING)

    def worked_out_again(node, tokens):
        raise AssertionError("the message was worked out of the tag's text again")

    monkeypatch.setattr(BlockTranslateNode, "render_token_list", worked_out_again)
    with translation.override("de"):
        assert greeting.render({"text": "Ada"}) == "Hallo, Ada!"
