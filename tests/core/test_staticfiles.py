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
