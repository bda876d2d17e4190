"""Signing keys: generated on first use, rotated by `kreide oidc-rotate-keys`."""

from __future__ import annotations

import json
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from jwcrypto import jwk

from kreide.oidc.models import SigningKey


def _new_key() -> SigningKey:
    key = jwk.JWK.generate(kty="RSA", size=2048)
    pem = key.export_to_pem(private_key=True, password=None).decode()
    return SigningKey.objects.create(pem=pem, kid=key.thumbprint())


def current() -> SigningKey:
    """The key that signs now; the first call on a new installation creates it."""
    key = SigningKey.objects.filter(retired_at__isnull=True).first()
    if key is not None:
        return key
    with transaction.atomic():
        # Two workers racing at first start: the row lock makes one of them create it.
        list(SigningKey.objects.select_for_update().all()[:1])
        return SigningKey.objects.filter(retired_at__isnull=True).first() or _new_key()


def _still_valid_after() -> timezone.datetime:
    lifetime = settings.OAUTH2_PROVIDER["ID_TOKEN_EXPIRE_SECONDS"]
    return timezone.now() - timedelta(seconds=lifetime)


def published() -> list[SigningKey]:
    """The current key and the retired ones whose tokens may not have expired yet."""
    current()
    return list(
        SigningKey.objects.filter(retired_at__isnull=True)
        | SigningKey.objects.filter(retired_at__gt=_still_valid_after())
    )


def rotate() -> tuple[SigningKey, int]:
    """Retire the current key, start a new one; drop keys no valid token can name.
    Returns the new key and how many old keys were removed."""
    with transaction.atomic():
        SigningKey.objects.filter(retired_at__isnull=True).update(retired_at=timezone.now())
        removed, _ = SigningKey.objects.filter(retired_at__lte=_still_valid_after()).delete()
        return _new_key(), removed


def jwks() -> dict:
    keys = []
    for key in published():
        data = {"alg": "RS256", "use": "sig", "kid": key.kid}
        data.update(json.loads(key.jwk.export_public()))
        keys.append(data)
    return {"keys": keys}
