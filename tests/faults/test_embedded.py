"""The embedded default (SQLite, no Redis) with `kreide serve`'s two workers: sessions and
sign-in throttles are the same in every worker (the shared file cache), so a signed-out
session stays signed out and a lockout comes after exactly the configured failures."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import PASSWORD
from tests.faults.conftest import kreide, signed_in

pytestmark = pytest.mark.slow
TIMEOUT = 10
REPLAYS = 20

MAKE_ACCOUNTS = f"""
from kreide.accounts.models import User
from kreide.schools.models import School
school = School.objects.create(name="Schule", slug="schule")
for name in ("anna", "ben"):
    User.objects.create_user(username=name, password="{PASSWORD}", school=school)
"""


def _prepare(env: dict[str, str]) -> None:
    kreide(env, "migrate", "--no-input")
    kreide(env, "shell", stdin=MAKE_ACCOUNTS)


def _form_token(session: requests.Session, url: str) -> str:
    form = session.get(url, timeout=TIMEOUT)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)


def test_sessions_and_lockouts_are_shared_by_the_workers(kreide_serve, settings):
    # One server for both (migrating SQLite and starting `kreide serve` is the slow part).
    embedded = kreide_serve(embedded=True, prepare=_prepare)
    _signed_out_session_is_signed_out_in_every_worker(embedded)
    _lockouts_count_across_workers(embedded, settings.LOGIN_FAILURES_PER_ACCOUNT)


def _signed_out_session_is_signed_out_in_every_worker(embedded) -> None:
    session = signed_in(embedded.url, "anna")
    stolen = dict(session.cookies)
    assert (
        session.get(f"{embedded.url}/", timeout=TIMEOUT, allow_redirects=False).status_code == 200
    )
    token = _form_token(session, f"{embedded.url}/")
    session.post(
        f"{embedded.url}/accounts/logout/",
        data={"csrfmiddlewaretoken": token},
        headers={"Referer": f"{embedded.url}/"},
        timeout=TIMEOUT,
    )
    # Replayed, the old cookie reaches both workers in turn: none of them knows it any more.
    answers = [
        requests.get(f"{embedded.url}/", cookies=stolen, timeout=TIMEOUT, allow_redirects=False)
        for _ in range(REPLAYS)
    ]
    assert [answer.status_code for answer in answers] == [302] * REPLAYS


def _lockouts_count_across_workers(embedded, limit: int) -> None:
    url = f"{embedded.url}/accounts/login/"
    codes = []
    for _ in range(limit + 1):
        attempt = requests.Session()  # a new browser each time, as a guessing script
        token = _form_token(attempt, url)
        codes.append(
            attempt.post(
                url,
                data={"csrfmiddlewaretoken": token, "username": "ben", "password": "falsch"},
                headers={"Referer": url},
                timeout=TIMEOUT,
            ).status_code
        )
    assert codes == [200] * (limit - 1) + [429, 429]
