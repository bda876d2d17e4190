"""The server's VAPID key (RFC 8292): made on first use, kept in the database like the
OIDC signing keys, so every worker and the delivery process sign with the same key."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction
from py_vapid import Vapid02

from kreide.notifications.models import VapidKey

# A VAPID token may live at most 24 hours; the delivery process signs a new one well before.
TOKEN_SECONDS = 12 * 3600


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _new_key() -> VapidKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKey.objects.create(pem=pem, public_key=b64url(point))


def current() -> VapidKey:
    """The key pair; the first call on a new installation creates it."""
    key = VapidKey.objects.order_by("pk").first()
    if key is not None:
        return key
    with transaction.atomic():
        # Two processes racing at first start: the row lock makes one of them create it.
        list(VapidKey.objects.select_for_update().all()[:1])
        return VapidKey.objects.order_by("pk").first() or _new_key()


def public_key() -> str:
    """What a browser passes as `applicationServerKey` when it subscribes."""
    return current().public_key


class Signer:
    """Signs one VAPID header per push service origin and reuses it until it is half-way
    to its expiry (one ES256 signature per origin, not per push)."""

    def __init__(self) -> None:
        self.vapid = Vapid02.from_pem(current().pem.encode())
        self.signed: dict[str, tuple[float, dict[str, str]]] = {}

    def headers(self, endpoint: str) -> dict[str, str]:
        parts = urlsplit(endpoint)
        audience = f"{parts.scheme}://{parts.netloc}"
        now = time.time()
        cached = self.signed.get(audience)
        if cached is not None and cached[0] > now:
            return cached[1]
        claims = {
            "aud": audience,
            "exp": int(now) + TOKEN_SECONDS,
            "sub": settings.PUSH_CONTACT,
        }
        headers = self.vapid.sign(claims)
        self.signed[audience] = (now + TOKEN_SECONDS / 2, headers)
        return headers
