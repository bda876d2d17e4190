"""Small request helpers shared by all modules."""

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The client's address; X-Forwarded-For counts only when it comes from our own proxy."""
    remote = request.META.get("REMOTE_ADDR", "")
    if remote in settings.TRUSTED_PROXIES:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return remote


def is_safe_next(request: HttpRequest, url: str | None) -> bool:
    from django.utils.http import url_has_allowed_host_and_scheme

    if not url or not url.startswith(("/", "http://", "https://")):
        # A bare word is no address: redirect() would take it for a view name.
        return False
    return url_has_allowed_host_and_scheme(
        url,
        allowed_hosts={request.get_host(), *settings.ALLOWED_HOSTS},
        require_https=request.is_secure(),
    )
