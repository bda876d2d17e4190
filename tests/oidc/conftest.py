import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from kreide.oidc import services

REDIRECT = "https://moodle.nord.example/auth/oidc/"
SCOPES = "openid profile email school roles groups"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def rp(world):
    """A tool of the first school, registered as the school office would."""
    client, secret = services.add_client(world.school, "Moodle", [REDIRECT], actor=world.admin)
    client.secret = secret
    return client


@pytest.fixture
def authorize():
    """Ask for a code as a signed-in browser; returns (response, verifier)."""

    def run(browser, client, *, redirect_uri=REDIRECT, pkce=True, **extra):
        verifier, challenge = pkce_pair()
        params = {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": "state-1",
            "nonce": "nonce-1",
            **extra,
        }
        if pkce:
            params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
        return browser.get("/oidc/authorize/", params), verifier

    return run


@pytest.fixture
def exchange(client):
    def run(rp, code, verifier, redirect_uri=REDIRECT, secret=None):
        return client.post(
            "/oidc/token/",
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            HTTP_AUTHORIZATION=basic(rp.client_id, secret or rp.secret),
        )

    return run
