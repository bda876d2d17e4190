"""Actions that cannot be undone are asked once more, on a page of their own."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def confirm_page(
    request: HttpRequest,
    *,
    question: str,
    consequence: str,
    confirm_label: str,
    cancel_url: str,
    affected: Iterable[str] = (),
    fields: dict[str, str] | None = None,
) -> HttpResponse:
    """The GET answer of a destructive action's URL; the form posts back to the same URL
    (with `fields` as hidden inputs)."""
    return render(
        request,
        "core/confirm.html",
        {
            "question": question,
            "consequence": consequence,
            "confirm_label": confirm_label,
            "cancel_url": cancel_url,
            "affected": list(affected),
            "fields": fields or {},
        },
    )
