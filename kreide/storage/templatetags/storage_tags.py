"""The uploader's scripts, rendered once per process."""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from kreide.core.navigation import urls_of_request

register = template.Library()


@lru_cache(maxsize=16)
def _scripts(urlconf: str, prefix: str) -> str:
    return render_to_string("storage/uploader_scripts.html")


@register.simple_tag
def uploader_scripts() -> SafeString:
    """`{% include "storage/uploader_scripts.html" %}` rendered once per process (and per
    URLconf and script prefix, which its catalog link depends on): links to static files
    that do not change while the process runs, on every page a student may upload from."""
    return mark_safe(_scripts(*urls_of_request()))  # noqa: S308 - a rendered template
