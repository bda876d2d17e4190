"""Personal API tokens: created and revoked by their owner, each step audited."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from kreide.api.models import ApiToken
from kreide.core import audit
from kreide.schools import access

PREFIX = "kreide_"
# last_used_at is renewed at most this often: a busy script costs no write per request.
USE_RESOLUTION = timedelta(minutes=5)

audit.declare(
    {
        "api.token_created": gettext_lazy("API token created"),
        "api.token_revoked": gettext_lazy("API token revoked"),
    }
)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_token(user, name: str, scope: str) -> str:
    """A new token of `user`; returns the secret, which is shown once and never stored."""
    if not access.participates(user):
        raise PermissionDenied
    if scope not in ApiToken.Scope.values:
        raise PermissionDenied
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.for_school(user.school_id).create(
        user=user, name=name.strip()[:100], scope=scope, secret_sha256=secret_hash(secret)
    )
    audit.record(user.school_id, user, "api.token_created", user, name=token.name, scope=scope)
    return secret


@transaction.atomic
def revoke_token(user, pk: int) -> None:
    token = ApiToken.objects.for_school(user.school_id).filter(pk=pk, user=user).first()
    if token is None:
        return
    token.delete()
    audit.record(user.school_id, user, "api.token_revoked", user, name=token.name)


def authenticate(secret: str) -> ApiToken | None:
    """The token with this secret, if its owner may still act; renews `last_used_at`."""
    if not secret.startswith(PREFIX):
        return None
    token = (
        ApiToken.unscoped.select_related("user", "user__school")
        .filter(secret_sha256=secret_hash(secret))
        .first()
    )
    if token is None or not access.participates(token.user):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > USE_RESOLUTION:
        ApiToken.unscoped.filter(pk=token.pk).update(last_used_at=now)
    return token
