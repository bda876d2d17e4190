"""A real relying party: Debian's Apache with mod_auth_openidc, configured against a live
Kreide, signs people in through Kreide's own sign-in page. The module checks discovery,
the token endpoint, the id_token's signature against the JWKS, iss, aud, nonce and exp."""

import html
import re
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

from kreide.oidc import services
from kreide.schools.models import Group, Membership
from tests.conftest import PASSWORD
from tests.ports import free_port

MODULES = Path("/usr/lib/apache2/modules")
APACHE = shutil.which("apache2") or "/usr/sbin/apache2"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (MODULES / "mod_auth_openidc.so").exists(),
        reason="libapache2-mod-auth-openidc is not installed",
    ),
]

CONFIG = """
ServerRoot "{root}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{root}/httpd.pid"
DefaultRuntimeDir "{root}"
ErrorLog "{root}/error.log"
LogLevel warn auth_openidc:info
User www-data
Group www-data
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule alias_module {modules}/mod_alias.so
LoadModule cgi_module {modules}/mod_cgi.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so

OIDCProviderMetadataURL {kreide}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid profile email school roles groups"
OIDCPKCEMethod S256
OIDCRemoteUserClaim sub
OIDCPassClaimsAs environment

ScriptAlias /protected/ "{root}/cgi/"
<Location /protected/>
  AuthType openid-connect
  Require valid-user
</Location>
"""

WHOAMI = """#!/bin/sh
printf 'Content-Type: text/plain\\n\\n'
env | grep -E '^(REMOTE_USER|OIDC_CLAIM_)' | sort
"""


def _wait_for(port: int, process: subprocess.Popen, log: Path) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise AssertionError(f"apache2 exited: {log.read_text() if log.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("apache2 did not start listening")


@pytest.fixture
def apache(live_server, world):
    """Apache on a free loopback port with its own configuration directory, registered at
    the first school; stopped by its PID."""
    port = free_port()
    rp_url = f"http://127.0.0.1:{port}"
    client, secret = services.add_client(
        world.school, "Apache", [f"{rp_url}/protected/redirect_uri"], actor=world.admin
    )
    root = Path(tempfile.mkdtemp(prefix="kreide-rp-"))
    (root / "cgi").mkdir()
    script = root / "cgi" / "whoami"
    script.write_text(WHOAMI)
    for path in (root, root / "cgi"):
        path.chmod(0o755)  # the workers run as www-data
    script.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    kreide = live_server.url.replace("localhost", "127.0.0.1")
    (root / "httpd.conf").write_text(
        CONFIG.format(
            root=root,
            port=port,
            modules=MODULES,
            kreide=kreide,
            client_id=client.client_id,
            client_secret=secret,
            passphrase=secrets.token_urlsafe(24),
        )
    )
    # Its own session: prefork's shutdown signals its whole process group.
    process = subprocess.Popen(
        [APACHE, "-f", str(root / "httpd.conf"), "-DFOREGROUND"], start_new_session=True
    )
    try:
        _wait_for(port, process, root / "error.log")
        yield rp_url, kreide, client
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)


def _sign_in_at_kreide(session: requests.Session, page: requests.Response, username: str):
    """Fill Kreide's own sign-in form the way a browser does."""
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    next_url = html.unescape(re.search(r'name="next" value="([^"]+)"', page.text).group(1))
    return session.post(
        page.url,
        data={
            "csrfmiddlewaretoken": token,
            "username": username,
            "password": PASSWORD,
            "next": next_url,
        },
        headers={"Referer": page.url},
        timeout=30,
    )


@pytest.mark.django_db(transaction=True)
def test_apache_signs_in_through_kreide_with_sub_email_and_groups(apache, world, make_group):
    rp_url, kreide, _ = apache
    student = world.student_7a
    student.email = "lea@nord.example"
    student.save()
    club = make_group(world.school, "Chemie-AG", kind=Group.Kind.WORKGROUP, grade=None)
    Membership.unscoped.create(school=world.school, group=club, user=student)

    session = requests.Session()
    page = session.get(f"{rp_url}/protected/whoami", timeout=30)
    assert page.url.startswith(f"{kreide}/accounts/login/?next=/oidc/authorize/")
    back = _sign_in_at_kreide(session, page, student.username)

    assert back.status_code == 200, back.text
    assert back.url == f"{rp_url}/protected/whoami"
    seen = dict(line.split("=", 1) for line in back.text.splitlines())
    assert seen["REMOTE_USER"] == str(student.pk)
    assert seen["OIDC_CLAIM_email"] == "lea@nord.example"
    assert seen["OIDC_CLAIM_school"] == "nord"
    assert sorted(seen["OIDC_CLAIM_groups"].split(",")) == ["7a", "Chemie-AG"]
    assert seen["OIDC_CLAIM_classes"] == "7a"

    # Signed in at Kreide now: the next tool visit passes without the form.
    again = session.get(f"{rp_url}/protected/whoami", timeout=30)
    assert again.url == f"{rp_url}/protected/whoami" and "REMOTE_USER" in again.text


@pytest.mark.django_db(transaction=True)
def test_apache_of_one_school_cannot_sign_in_another_schools_account(apache, world):
    rp_url, kreide, _ = apache
    session = requests.Session()
    page = session.get(f"{rp_url}/protected/whoami", timeout=30)
    refused = _sign_in_at_kreide(session, page, world.other_student.username)
    assert refused.status_code == 403
    assert refused.url.startswith(f"{kreide}/oidc/authorize/")
    assert "anderen Schule" in refused.text
