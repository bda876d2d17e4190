"""Sign-in rate limiting with device cookies (OWASP, "Slow Down Online Guessing Attacks
with Device Cookies"): lockouts stop guessing without becoming a weapon.

A browser that signed in to an account carries a signed device cookie naming it (keyed
hashes of the account's username and e-mail address) and a random id of the browser.
Its failures count against that browser and account alone: wrong passwords lock out
that browser for that account, nobody else. Attempts without such a cookie, from
unknown browsers, count per account and per network address as they always did; past
either limit unknown browsers are locked out, known ones are not. An attacker thus gets
no more guesses than before, but can no longer lock a teacher out of the browser they
always use, nor a whole school behind its one public address.

Counters live in the cache (Redis in production), so every worker sees the same counts
and a locked-out storm costs no database query and no password hash. While Redis is away
they count in the machine's file cache (`with_counters`): never "no limit".
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import BaseCache, caches
from django.http import HttpRequest, HttpResponse

from kreide.core.cache import with_counters

DEVICE_COOKIE = "kreide_device"
DEVICE_COOKIE_SECONDS = 365 * 24 * 3600
# Accounts one browser is known for (a shared classroom computer serves many).
DEVICE_ACCOUNTS = 20
_DEVICE_SALT = "kreide.accounts.device"


@dataclass(frozen=True)
class Lockout:
    seconds_left: int

    @property
    def minutes_left(self) -> int:
        return max(1, -(-self.seconds_left // 60))


@dataclass(frozen=True)
class Device:
    """A browser that signed in before: its random id and the accounts it signed in to."""

    browser: str
    accounts: tuple[str, ...]

    def knows(self, identifier: str) -> bool:
        return _account_digest(identifier) in self.accounts


def _normal(value: str) -> str:
    return value.strip().lower()


def _account_digest(identifier: str) -> str:
    # Keyed: the cookie must not tell who signed in on a shared computer. Django's
    # salted_hmac(_DEVICE_SALT, …) (HMAC-SHA1), with its derived key made once per secret.
    key = _digest_key(settings.SECRET_KEY)
    return hmac.digest(key, _normal(identifier).encode(), "sha1").hex()[:16]


@functools.lru_cache(maxsize=4)
def _digest_key(secret: str) -> bytes:
    """salted_hmac's key for _DEVICE_SALT (a hash of salt and secret, not a password)."""
    return hashlib.sha1(f"{_DEVICE_SALT}{secret}".encode()).digest()  # noqa: S324


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(_normal(value).encode()).hexdigest()[:32]
    return f"login:{kind}:{digest}"


def device_of(request: HttpRequest) -> Device | None:
    """The browser's valid device cookie, else None (unknown browser)."""
    raw = request.COOKIES.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        data = signing.loads(raw, salt=_DEVICE_SALT, max_age=DEVICE_COOKIE_SECONDS)
        return Device(str(data["b"]), tuple(str(account) for account in data["a"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None


def _own_key(identifier: str, device: Device | None) -> str:
    """The counter of the way an attempt comes: a known browser's own for the account,
    else the account's (the one a success forgets)."""
    if device is not None and device.knows(identifier):
        return _key("device", f"{device.browser}\0{identifier}")
    return _key("account", identifier)


def _subjects(identifier: str, address: str, device: Device | None) -> list[tuple[str, int]]:
    """The counters an attempt counts on and their limits, the own one (_own_key) first."""
    own = (_own_key(identifier, device), settings.LOGIN_FAILURES_PER_ACCOUNT)
    if device is not None and device.knows(identifier):
        return [own]
    return [own, (_key("address", address or "unknown"), settings.LOGIN_FAILURES_PER_ADDRESS)]


@dataclass(frozen=True)
class Check:
    """Before a password or code is checked: the lockout in force, and whether the way the
    attempt comes had failures (or a lockout mark) for a success to forget. Without, the
    success skips `record_success` (a failure counted meanwhile stays: the stricter way)."""

    lockout: Lockout | None
    failures: bool


def check(identifier: str, address: str, device: Device | None = None) -> Check:
    now = time.time()
    subjects = _subjects(identifier, address, device)
    own = subjects[0][0]  # _own_key's
    keys = [f"{key}:until" for key, _ in subjects]
    # The own counter comes in the same round trip: without failures a success has
    # nothing to forget and costs no DEL.
    found = with_counters(lambda cache: cache.get_many([own, *keys]))
    locks = [found.get(key) for key in keys]
    if settings.REDIS_URL:  # a lockout made while Redis was away still holds
        locks += caches["local"].get_many(keys).values()
    remaining = [until - now for until in locks if until and until > now]
    return Check(
        Lockout(int(max(remaining)) + 1) if remaining else None,
        failures=own in found or f"{own}:until" in found,
    )


def current_lockout(identifier: str, address: str, device: Device | None = None) -> Lockout | None:
    return check(identifier, address, device).lockout


def record_failure(identifier: str, address: str, device: Device | None = None) -> Lockout | None:
    """Count a failed attempt; returns the lockout it caused, if any."""
    return with_counters(lambda cache: _count_failure(cache, identifier, address, device))


def _count_failure(
    cache: BaseCache, identifier: str, address: str, device: Device | None
) -> Lockout | None:
    window = settings.LOGIN_LOCKOUT_SECONDS
    lockout = None
    for key, limit in _subjects(identifier, address, device):
        cache.add(key, 0, timeout=window)
        try:
            failures = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            failures = 1
        if failures >= limit:
            cache.set(f"{key}:until", time.time() + window, timeout=window)
            cache.delete(key)
            lockout = Lockout(window)
    return lockout


def record_success(identifier: str, device: Device | None = None) -> None:
    """Forget the failures of the way this sign-in came: a known browser's success leaves
    the unknown browsers' count alone (else each of them would give an attacker new
    guesses)."""
    key = _own_key(identifier, device)
    with_counters(lambda cache: cache.delete_many([key, f"{key}:until"]))


def remember_device(request: HttpRequest, response: HttpResponse, user) -> None:
    """After a complete sign-in: this browser is known for the user's account from now on."""
    device = device_of(request)
    mine = [_account_digest(name) for name in (user.username, user.email) if name]
    known = [account for account in (device.accounts if device else ()) if account not in mine]
    value = signing.dumps(
        {
            "b": device.browser if device else secrets.token_urlsafe(16),
            "a": (mine + known)[:DEVICE_ACCOUNTS],
        },
        salt=_DEVICE_SALT,
        # Not compressed: zlib's set-up for a few dozen bytes of hex digests costs more CPU
        # (~20-50 µs, each sign-in) than the few bytes it saves; loads() reads either form.
    )
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_COOKIE_SECONDS,
        path="/accounts/login/",  # sent only where it counts
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
