"""nginx from `kreide nginx-config` in front of a real `kreide serve`, on free loopback ports."""

import http.client
import os
import re
import shutil
import urllib.parse

import pytest
from django.db import connection

from bench.wave.stack import production_stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]


def _get(url: str, path: str, method: str = "GET", headers: dict | None = None):
    parts = urllib.parse.urlsplit(url)
    client = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    client.request(method, path, headers=headers or {})
    response = client.getresponse()
    return response, response.read()


@pytest.mark.django_db(transaction=True)
def test_nginx_serves_pages_static_files_and_passes_shed_503(tmp_path):
    if connection.vendor != "postgresql" or not os.environ.get("KREIDE_REDIS_URL"):
        pytest.skip("the production stack runs on PostgreSQL and Redis")
    database = connection.settings_dict
    database_url = (
        f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )
    # No login may run at once: every sign-in is turned away, pages are not.
    limits = {"KREIDE_ADMISSION_LOGIN_IN_FLIGHT": "0", "KREIDE_ADMISSION_LOGIN_QUEUE": "0"}
    with production_stack(
        tmp_path, database_url, os.environ["KREIDE_REDIS_URL"], workers=1, settings=limits, setup=()
    ) as stack:
        response, body = _get(stack.url, "/accounts/login/")
        page = body.decode()
        assert response.status == 200 and "Anmelden" in page

        stylesheet = re.search(r'href="(/static/kreide/css/kreide\.[0-9a-f]{12}\.css)"', page)
        assert stylesheet, "collected static files have hashed names"
        response, _ = _get(stack.url, stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
        assert response.status == 200
        assert response.getheader("Content-Encoding") == "gzip"  # the precompressed file
        assert "max-age=31536000" in response.getheader("Cache-Control")
        assert response.getheader("Expires", "").endswith("2037 23:55:55 GMT")

        response, body = _get(
            stack.url, "/accounts/login/", method="POST", headers={"Accept": "text/html"}
        )
        assert response.status == 503
        assert int(response.getheader("Retry-After")) >= 1
        assert "Einen Moment bitte" in body.decode()
