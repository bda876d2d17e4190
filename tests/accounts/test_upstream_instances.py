"""Two real Kreide instances: "Süd" signs its people in through "Nord" as its upstream
OpenID Connect provider.

Each runs `kreide serve` as the embedded default (its own SQLite database and data
directory, no mail servers) on loopback. Nord registers Süd with `kreide oidc-client add`;
Süd's school office sets Nord up as a sign-in provider through its own form and links an
account to Nord's `sub`. A requests session is the browser: Süd's sign-in button, Nord's
sign-in page, back at Süd signed in as the linked account. Nord is reached as `localhost`
and Süd as `127.0.0.1`, so each keeps its own cookies, as two sites do.

A small reverse proxy on 127.0.0.2 stands in front of Nord for the refusals that need a
party in the middle: it answers as another issuer, or alters the id_token in the token
response (its signature no longer matches Nord's JWKS).
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import PASSWORD

# kreide_serve is the fault suite's fixture: `kreide serve` on free ports, stopped after.
from tests.faults.conftest import kreide, kreide_serve, signed_in  # noqa: F401
from tests.ports import free_port

pytestmark = pytest.mark.slow
TIMEOUT = 30

NORD = f"""
from kreide.accounts.models import User
from kreide.schools.models import School
school = School.objects.create(name="Gymnasium Nord", slug="nord")
User.objects.create_user(username="lea", first_name="Lea", password="{PASSWORD}", school=school)
User.objects.create_user(username="ben", first_name="Ben", password="{PASSWORD}", school=school)
"""
SUED = f"""
from kreide.accounts.models import User
from kreide.schools.models import School
school = School.objects.create(name="Realschule Süd", slug="sued")
User.objects.create_user(
    username="office", password="{PASSWORD}", school=school, role="school_admin"
)
User.objects.create_user(
    username="leonie", first_name="Leonie", password="{PASSWORD}", school=school
)
"""


def _prepared(script: str, envs: list[dict[str, str]], template: Path):
    """Migrates the first instance's SQLite database and copies it for the second (the
    migrations are the slow part), then adds the instance's school and people."""

    def prepare(env: dict[str, str]) -> None:
        env["KREIDE_ALLOWED_HOSTS"] = "127.0.0.1,localhost,127.0.0.2"
        database = Path(env["KREIDE_DATA_DIR"]) / "kreide.sqlite3"
        if template.exists():
            shutil.copyfile(template, database)
        else:
            kreide(env, "migrate", "--no-input")
            shutil.copyfile(database, template)
        kreide(env, "shell", stdin=script)
        envs.append(env)

    return prepare


def _value(env: dict[str, str], expression: str) -> str:
    imports = "from kreide.accounts.models import *; from kreide.core.models import *"
    command = f"{imports}; print({expression})"
    return kreide(env, "shell", "-v", "0", "-c", command).strip().splitlines()[-1]


class Middleman:
    """A reverse proxy to Nord on 127.0.0.2. `mode`: "pass", "foreign" (forwards with
    Nord's own host name, so Nord answers as issuer http://localhost:PORT) or "tamper"
    (changes `sub` inside the id_token of token responses)."""

    def __init__(self, target_port: int) -> None:
        self.mode = "pass"
        middleman = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._forward()

            def do_POST(self) -> None:
                self._forward()

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = (
                    f"localhost:{target_port}"
                    if middleman.mode == "foreign"
                    else self.headers["Host"]
                )
                upstream = http.client.HTTPConnection("127.0.0.1", target_port, timeout=TIMEOUT)
                upstream.request(self.command, self.path, body or None, headers)
                answer = upstream.getresponse()
                content = answer.read()
                if middleman.mode == "tamper" and self.path.startswith("/oidc/token/"):
                    content = _tampered(content)
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)
                upstream.close()

        self.server = ThreadingHTTPServer(("127.0.0.2", free_port()), Handler)
        self.url = f"http://127.0.0.2:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _tampered(content: bytes) -> bytes:
    """The token response with the id_token's `sub` changed (header and signature kept)."""
    tokens = json.loads(content)
    header, payload, signature = tokens["id_token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(int(claims["sub"]) + 1)
    tokens["id_token"] = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    return json.dumps(tokens).encode()


def _csrf(page: requests.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def _post_form(session: requests.Session, page: requests.Response, url: str, data: dict, **kw):
    return session.post(
        url,
        data={"csrfmiddlewaretoken": _csrf(page), **data},
        headers={"Referer": page.url},
        timeout=TIMEOUT,
        **kw,
    )


def _to_the_provider(
    sued, provider_pk: str, name: str
) -> tuple[requests.Session, requests.Response]:
    """A new browser presses the provider's button on Süd's sign-in page."""
    browser = requests.Session()
    page = browser.get(f"{sued.url}/accounts/login/", timeout=TIMEOUT)
    assert f"Anmelden mit {name}" in page.text
    return browser, _post_form(
        browser, page, f"{sued.url}/accounts/login/provider/{provider_pk}/", {}
    )


def _sign_in_at_nord(browser: requests.Session, page: requests.Response, username: str):
    """Nord's own sign-in form; returns Nord's redirect back to Süd (not followed)."""
    assert "/accounts/login/?next=/oidc/authorize/" in page.url, page.url
    next_url = parse_qs(urlsplit(page.url).query)["next"][0]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    signed = _post_form(
        browser,
        page,
        page.url,
        {"username": username, "password": PASSWORD, "next": next_url},
        allow_redirects=False,
    )
    assert signed.status_code == 302, signed.text[:500]
    authorized = browser.get(
        origin + signed.headers["Location"], timeout=TIMEOUT, allow_redirects=False
    )
    assert authorized.status_code == 302, authorized.text[:500]
    return authorized.headers["Location"]


@pytest.fixture
def instances(kreide_serve, tmp_path):  # noqa: F811
    envs: list[dict[str, str]] = []
    template = tmp_path / "migrated.sqlite3"
    nord = kreide_serve(embedded=True, prepare=_prepared(NORD, envs, template))
    sued = kreide_serve(embedded=True, prepare=_prepared(SUED, envs, template))
    nord_env, sued_env = envs
    middleman = Middleman(nord.port)
    callback = f"{sued.url}/accounts/login/provider/return/"
    registered = kreide(
        nord_env, "oidc-client", "add", "--school", "nord", "--name", "Kreide Süd",
        "--redirect-uri", callback,
    )  # fmt: skip
    client_id = re.search(r"client_id: (\S+)", registered).group(1)
    secret = re.search(r"client_secret: (\S+)", registered).group(1)

    # Süd's school office sets the providers up through its own form.
    office = signed_in(sued.url, "office")
    form_url = f"{sued.url}/accounts/admin/sign-in-providers/new/"
    page = office.get(form_url, timeout=TIMEOUT)
    assert "/accounts/login/provider/return/" in page.text
    for name, issuer in (
        ("Kreide Nord", f"http://localhost:{nord.port}"),
        ("Umweg", middleman.url),
    ):
        saved = _post_form(
            office,
            page,
            form_url,
            {
                "name": name,
                "issuer": issuer,
                "client_id": client_id,
                "client_secret": secret,
                "scopes": "openid profile",
                "claim": "sub",
                "new_account_role": "student",
                "enabled": "on",
            },
            allow_redirects=False,
        )
        assert saved.status_code == 302, saved.text[:3000]
    providers = {
        name: _value(sued_env, f"UpstreamProvider.unscoped.get(name='{name}').pk")
        for name in ("Kreide Nord", "Umweg")
    }
    # Leonie at Süd is Lea at Nord: her account gets Nord's `sub` as its external ID.
    lea_sub = _value(nord_env, "User.objects.get(username='lea').pk")
    leonie = _value(sued_env, "User.objects.get(username='leonie').pk")
    user_page = office.get(f"{sued.url}/accounts/admin/users/{leonie}/", timeout=TIMEOUT)
    for provider_pk in providers.values():
        linked = _post_form(
            office,
            user_page,
            f"{sued.url}/accounts/admin/users/{leonie}/external-id/",
            {"provider": provider_pk, "value": lea_sub},
            allow_redirects=False,
        )
        assert linked.status_code == 302
    yield nord, sued, middleman, providers, sued_env
    middleman.close()


def test_a_second_kreide_signs_in_through_the_first(instances):
    nord, sued, middleman, providers, sued_env = instances

    # Signed in at Süd as the linked account, through Nord's sign-in page.
    browser, at_nord = _to_the_provider(sued, providers["Kreide Nord"], "Kreide Nord")
    assert at_nord.url.startswith(f"http://localhost:{nord.port}/accounts/login/")
    back = _sign_in_at_nord(browser, at_nord, "lea")
    assert back.startswith(f"{sued.url}/accounts/login/provider/return/?")
    home = browser.get(back, timeout=TIMEOUT)
    assert home.status_code == 200 and home.url == f"{sued.url}/"
    assert "Leonie" in home.text
    firsts = "AuditEntry.unscoped.filter(action='account.upstream_first_sign_in').count()"
    assert _value(sued_env, firsts) == "1"

    # Unmatched: Ben has an account at Nord, none linked at Süd.
    browser, at_nord = _to_the_provider(sued, providers["Kreide Nord"], "Kreide Nord")
    refused = browser.get(_sign_in_at_nord(browser, at_nord, "ben"), timeout=TIMEOUT)
    assert refused.status_code == 403
    assert "ist nicht mit einem Konto von Realschule Süd verknüpft" in refused.text
    assert "Hallo" not in browser.get(f"{sued.url}/", timeout=TIMEOUT).text

    # A forged state, and a callback of this browser's sign-in replayed after its use.
    browser, at_nord = _to_the_provider(sued, providers["Kreide Nord"], "Kreide Nord")
    back = _sign_in_at_nord(browser, at_nord, "lea")
    forged = browser.get(back.replace("state=", "state=forged"), timeout=TIMEOUT)
    assert forged.status_code == 403 and "nicht hier begonnen" in forged.text
    stranger = requests.Session().get(back, timeout=TIMEOUT)
    assert stranger.status_code == 403
    assert browser.get(back, timeout=TIMEOUT).url == f"{sued.url}/"
    assert browser.get(back, timeout=TIMEOUT).status_code == 403

    # Through the middleman unchanged, the sign-in works ...
    browser, at_nord = _to_the_provider(sued, providers["Umweg"], "Umweg")
    assert at_nord.url.startswith(f"{middleman.url}/accounts/login/")
    assert (
        browser.get(_sign_in_at_nord(browser, at_nord, "lea"), timeout=TIMEOUT).url
        == f"{sued.url}/"
    )

    # ... an id_token altered on the way is refused: its signature fails against the JWKS.
    middleman.mode = "tamper"
    browser, at_nord = _to_the_provider(sued, providers["Umweg"], "Umweg")
    tampered = browser.get(_sign_in_at_nord(browser, at_nord, "lea"), timeout=TIMEOUT)
    assert tampered.status_code == 403
    assert "hat die Anmeldung nicht bestätigt" in tampered.text
    assert "Hallo" not in browser.get(f"{sued.url}/", timeout=TIMEOUT).text

    # Answering as another issuer than the configured one: refused before anyone signs in.
    middleman.mode = "foreign"
    browser = requests.Session()
    page = browser.get(f"{sued.url}/accounts/login/", timeout=TIMEOUT)
    foreign = _post_form(
        browser, page, f"{sued.url}/accounts/login/provider/{providers['Umweg']}/", {}
    )
    assert foreign.status_code == 403 and foreign.url.startswith(sued.url)
    assert "antwortet als anderer Aussteller" in foreign.text
