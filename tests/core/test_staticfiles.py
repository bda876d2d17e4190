import json

import pytest

from kreide.core.staticfiles import HashedStaticFilesStorage


@pytest.fixture
def storage(tmp_path, settings):
    settings.DEBUG = False
    (tmp_path / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "paths": {"kreide/app.css": "kreide/app.0123abcd.css"}})
    )
    return HashedStaticFilesStorage(location=tmp_path, base_url="/static/")


def test_hashed_url_is_looked_up_once(storage, monkeypatch):
    assert storage.url("kreide/app.css") == "/static/kreide/app.0123abcd.css"

    def no_second_lookup(name):
        raise AssertionError(f"{name} looked up again")

    monkeypatch.setattr(storage, "stored_name", no_second_lookup)
    assert storage.url("kreide/app.css") == "/static/kreide/app.0123abcd.css"


def test_a_file_missing_from_the_manifest_fails_every_time(storage):
    for _ in range(2):
        with pytest.raises(ValueError):
            storage.url("kreide/missing.css")


def test_debug_links_the_unhashed_file(storage, settings):
    storage.url("kreide/app.css")
    settings.DEBUG = True
    assert storage.url("kreide/app.css") == "/static/kreide/app.css"


def _template(source):
    from django.template import engines

    return engines["django"].engine.from_string("{% load static %}" + source)


def _render(template, **context):
    from django.template import Context

    return template.render(Context(context))


def test_a_literal_static_link_is_kept(monkeypatch):
    from django.contrib.staticfiles.storage import staticfiles_storage

    template = _template('{% static "kreide/app.css" %}')
    assert _render(template) == "/static/kreide/app.css"

    def no_second_lookup(name):
        raise AssertionError(f"{name} looked up again")

    monkeypatch.setattr(staticfiles_storage, "url", no_second_lookup)
    assert _render(template) == "/static/kreide/app.css"


def test_a_kept_static_link_follows_the_settings(settings):
    source = _template('{% static "kreide/app.css" %}')
    assert _render(source) == "/static/kreide/app.css"
    settings.STATIC_URL = "/assets/"
    assert _render(source) == "/assets/kreide/app.css"


def test_a_static_link_from_a_variable_is_not_kept():
    source = _template("{% static path %}")
    assert _render(source, path="kreide/a.css") == "/static/kreide/a.css"
    assert _render(source, path="kreide/b.css") == "/static/kreide/b.css"


def test_collectstatic_moves_the_generation(storage):
    from kreide.core import staticfiles

    before = staticfiles.generation()
    list(storage.post_process({}, dry_run=True))
    assert staticfiles.generation() > before
