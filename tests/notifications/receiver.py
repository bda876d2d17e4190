"""A real RFC 8030 push service on loopback, for tests and the benchmark.

It receives what Kreide posts to a subscription's endpoint, checks the VAPID token
(RFC 8292: ES256 JWT, audience, expiry, contact, the key Kreide subscribed browsers with)
and decrypts the body (RFC 8291 aes128gcm) with the browser's private key, exactly as a
browser's push service and the browser would. Endpoints whose token is in `gone` answer
410, as a push service does for a browser that unsubscribed.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Browser:
    """What a browser keeps for one subscription: its key pair and auth secret."""

    token: str
    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    @property
    def p256dh(self) -> str:
        return b64encode(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )

    def subscription(self, origin: str) -> dict:
        """The JSON a browser's PushSubscription.toJSON() gives."""
        return {
            "endpoint": f"{origin}/push/{self.token}",
            "keys": {"p256dh": self.p256dh, "auth": b64encode(self.auth)},
        }


class Rejected(Exception):
    pass


def verify_vapid(header: str, audience: str) -> tuple[dict, str]:
    """The claims and public key of a valid `vapid t=…, k=…` header, else Rejected."""
    if not header.startswith("vapid "):
        raise Rejected("no vapid authorization")
    params = dict(
        part.strip().split("=", 1) for part in header[len("vapid ") :].split(",") if "=" in part
    )
    token, key = params.get("t", ""), params.get("k", "")
    head, body, signature = token.split(".")
    if json.loads(b64decode(head)) != {"typ": "JWT", "alg": "ES256"}:
        raise Rejected("not an ES256 JWT")
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64decode(key))
    raw = b64decode(signature)
    if len(raw) != 64:
        raise Rejected("signature is not r||s")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        public.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Rejected("bad signature") from None
    claims = json.loads(b64decode(body))
    now = time.time()
    if claims.get("aud") != audience:
        raise Rejected(f"audience {claims.get('aud')!r}")
    if not now < claims.get("exp", 0) <= now + 24 * 3600:
        raise Rejected("expiry outside 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise Rejected("no contact")
    return claims, key


class PushReceiver:
    def __init__(self) -> None:
        self.browsers: dict[str, Browser] = {}
        self.received: list[tuple[str, dict]] = []
        self.rejected: list[str] = []
        self.keys: set[str] = set()
        self.gone: set[str] = set()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                token = self.path.rsplit("/", 1)[-1]
                status = receiver.accept(token, self.headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # a push service takes many connections at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PushReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def browser(self, token: str) -> Browser:
        self.browsers[token] = Browser(token)
        return self.browsers[token]

    def accept(self, token: str, headers, body: bytes) -> int:
        browser = self.browsers.get(token)
        if browser is None or token in self.gone:
            return 410
        try:
            if headers.get("Content-Encoding") != "aes128gcm":
                raise Rejected("not aes128gcm")
            if not headers.get("TTL", "").isdigit():
                raise Rejected("no TTL")
            _claims, key = verify_vapid(headers.get("Authorization", ""), self.origin)
            plain = http_ece.decrypt(
                body, private_key=browser.private_key, auth_secret=browser.auth, version="aes128gcm"
            )
            message = json.loads(plain)
        except Exception as error:  # anything a push service or browser would refuse
            with self.lock:
                self.rejected.append(f"{token}: {error}")
            return 400
        with self.lock:
            self.keys.add(key)
            self.received.append((token, message))
        return 201

    def messages_for(self, token: str) -> list[dict]:
        with self.lock:
            return [message for got, message in self.received if got == token]
