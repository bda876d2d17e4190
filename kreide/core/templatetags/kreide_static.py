"""Django's `static` template library, with `{% static "a literal path" %}` kept per node.

Every page links 4–10 static files, and Django works each link out on every render:
the path's expression, whether staticfiles is installed, the lazy storage, the
manifest's entry and the escaping, ~39 Python calls a link. A literal path links the
same file until the static files or their settings change, so each such tag keeps its
URL. Registered as the library `static` (settings.TEMPLATES), so templates still
`{% load static %}`; `{% get_static_prefix %}` and `{% get_media_prefix %}` are Django's.
"""

from __future__ import annotations

from django import template
from django.templatetags import static

from kreide.core import staticfiles

register = template.Library()
register.tags.update(static.register.tags)
register.filters.update(static.register.filters)


class KeptStaticNode(static.StaticNode):
    def __init__(self, varname: str | None = None, path: object = None) -> None:
        super().__init__(varname, path)
        self.constant = isinstance(self.path.var, str) and not self.path.filters
        self.kept: dict[tuple[int, bool], str] = {}

    def render(self, context: template.Context) -> str:
        if not self.constant or self.varname is not None:
            return super().render(context)
        # With the generation, a URL kept before collectstatic or a settings change is
        # not shown after; a path missing from the manifest raises and keeps nothing.
        key = (staticfiles.generation(), context.autoescape)
        url = self.kept.get(key)
        if url is None:
            url = self.kept[key] = super().render(context)
        return url


register.tag("static", KeptStaticNode.handle_token)
