"""The site's URL patterns, with what each path resolved to kept per process.

Django resolves every request's path by trying the URL patterns in order, each include
trying its own: 90–300 Python calls a page (the dashboard's `/` is the last pattern).
What a path resolves to depends only on the path and the patterns (no pattern is
translated, the converters are pure), so the match found for a path is kept and handed
out again; Django's root resolver still builds each request its own ResolverMatch from it.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.urls import ResolverMatch, URLPattern, URLResolver
from django.urls.resolvers import RoutePattern

# Paths kept (a full table starts over) and the longest path kept: a crawler's endless
# distinct paths cost a resolve each, as before, and bounded memory.
LIMIT = 4096
LONGEST = 256


class KeptResolver(URLResolver):
    """`include()` of `patterns` at the root (no prefix, no namespace), each path's match
    kept. A path that matches nothing raises Resolver404 every time."""

    def __init__(self, patterns: Sequence[URLPattern | URLResolver]) -> None:
        super().__init__(RoutePattern(""), list(patterns))
        self._kept: dict[str, ResolverMatch] = {}

    def resolve(self, path: str) -> ResolverMatch:
        match = self._kept.get(path)
        if match is None:
            match = super().resolve(path)
            if len(path) <= LONGEST:
                if len(self._kept) >= LIMIT:
                    self._kept.clear()
                self._kept[path] = match
        return match
