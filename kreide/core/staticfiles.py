"""The static files storage: whitenoise's hashed, compressed files."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from whitenoise.storage import CompressedManifestStaticFilesStorage

# Moves whenever a static file's URL may change (collectstatic wrote a new manifest, a
# setting the URLs come from changed): what `{% static %}` keeps is for one generation.
_generation = [0]
_URL_SETTINGS = frozenset({"STATIC_URL", "STORAGES", "DEBUG", "INSTALLED_APPS"})


def generation() -> int:
    return _generation[0]


def _settings_changed(*, setting: str, **_kwargs: object) -> None:
    if setting in _URL_SETTINGS:
        _generation[0] += 1


setting_changed.connect(_settings_changed)


class HashedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Looks each file's hashed URL up once per process: the manifest does not change
    while the process runs (it is read at start), and every page links several files."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name: str, force: bool = False) -> str:
        if force or settings.DEBUG:  # DEBUG links the unhashed files, as Django does
            return super().url(name, force)
        url = self._urls.get(name)
        if url is None:
            # A file missing from the manifest raises here, and nothing is kept.
            url = self._urls[name] = super().url(name)
        return url

    def post_process(self, *args: Any, **kwargs: Any) -> Iterator[tuple[str, str, bool]]:
        # collectstatic writes a new manifest: URLs looked up before it are stale.
        self._urls.clear()
        _generation[0] += 1
        yield from super().post_process(*args, **kwargs)
        self._urls.clear()
        _generation[0] += 1
