"""A minimal Kreide API client (standard library only) that behaves well at 8:00.

    python docs/examples/api_client.py https://schule.example USERNAME   # asks for the password

It signs in like the browser does (session cookie + CSRF token), lists the user's tasks
from /api/v1/tasks/ and, like every Kreide client, treats 429/502/503/504 as "come back
later": it waits what `Retry-After` says plus a growing random extra (capped exponential
backoff with full jitter) and gives up after a few attempts instead of storming the server.
Copy it as a starting point; docs/api.md describes the API.
"""

from __future__ import annotations

import getpass
import http.cookiejar
import json
import random
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

BUSY = {429, 502, 503, 504}
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class KreideBusy(Exception):
    """Kreide stayed busy through every attempt; try again in a few minutes."""


def backoff_delay(attempt: int, retry_after: float, base: float = 1.0, cap: float = 60.0) -> float:
    """Retry-After, plus a random extra that grows with each attempt (full jitter)."""
    return retry_after + random.uniform(0, min(cap, base * 2**attempt))


class KreideClient:
    def __init__(
        self,
        base_url: str,
        *,
        attempts: int = 5,
        timeout: float = 30,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
            raise ValueError("Kreide's address starts with https:// (or http://)")
        self.base_url = base_url.rstrip("/")
        self.attempts = attempts
        self.timeout = timeout
        self.sleep = sleep
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect()
        )

    def request(
        self, method: str, path: str, data: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict, bytes]:
        """One request; busy answers are retried after Retry-After plus backoff, capped."""
        for attempt in range(self.attempts):
            request = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
                self.base_url + path, data=data, method=method, headers=headers or {}
            )
            try:
                with self.opener.open(request, timeout=self.timeout) as response:
                    return response.status, dict(response.headers), response.read()
            except urllib.error.HTTPError as error:
                if error.code not in BUSY:
                    return error.code, dict(error.headers), error.read()
                retry_after = _seconds(error.headers.get("Retry-After"))
            if attempt + 1 < self.attempts:
                self.sleep(backoff_delay(attempt, retry_after))
        raise KreideBusy(f"{method} {path}: still busy after {self.attempts} attempts")

    def _csrf_token(self) -> str:
        return next((c.value for c in self.cookies if c.name == "csrftoken"), "")

    def sign_in(self, username: str, password: str) -> None:
        status, _, body = self.request("GET", "/accounts/login/")
        found = CSRF_FIELD.search(body.decode())
        form = urllib.parse.urlencode(
            {
                "csrfmiddlewaretoken": found.group(1) if found else "",
                "username": username,
                "password": password,
            }
        ).encode()
        status, headers, _ = self.request(
            "POST",
            "/accounts/login/",
            form,
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": self.base_url + "/accounts/login/",
            },
        )
        if status != 302:
            raise PermissionError("Sign-in failed: check username and password.")

    def tasks(self) -> list[dict]:
        status, _, body = self.request(
            "GET", "/api/v1/tasks/", headers={"Accept": "application/json"}
        )
        if status != 200:
            raise RuntimeError(f"/api/v1/tasks/ answered {status}")
        return json.loads(body)["tasks"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers here (a sign-in answers 302), not something to follow."""

    def http_error_302(self, req, fp, code, msg, headers):
        return fp

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value or 1))
    except ValueError:  # an HTTP date: rare from Kreide; wait a moment
        return 5.0


if __name__ == "__main__":
    client = KreideClient(sys.argv[1])
    client.sign_in(sys.argv[2], getpass.getpass())
    for task in client.tasks():
        print(f"{task['id']:>6}  {task.get('due_at') or '':<26} {task['title']}")
