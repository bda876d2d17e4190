"""Paged lists that keep their filters: the page plus the query string without `page`."""

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_SIZE = 50


def page_of(request: HttpRequest, items, size: int = PAGE_SIZE) -> tuple[Page, str]:
    page = Paginator(items, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()
