"""Delivering notifications: live into open pages, by Web Push, held through quiet hours.

The queue is the Notification table itself: `notify()` writes rows with `delivered_at`
empty in the transaction that causes them, and `kreide notifications-work` (a child of
`kreide serve`) takes them in id order, a batch at a time, renews the recipients' unread
counts in the cache, tells the open pages over the channel layer, pushes to each
subscribed browser and then stamps the batch. A crash
between sending and stamping sends that batch again after the restart: nothing is lost,
a push may come twice. Nothing here runs in a page request.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatch
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.cache import cache
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import ngettext, override
from pywebpush import WebPusher

from kreide.accounts.models import User
from kreide.core import live
from kreide.notifications import vapid
from kreide.notifications.models import (
    Notification,
    Preferences,
    PushSubscription,
    QuietHours,
)

logger = logging.getLogger(__name__)

BATCH = 200
PUSH_THREADS = 16
PUSH_TIMEOUT = 5.0
# How long a push service keeps a message for a browser that is offline.
PUSH_TTL = 12 * 3600
# A push service that failed this often in a row is skipped for a while: an unreachable
# service must not hold up the rest of the queue with one timeout per subscription.
HOST_FAILURES, HOST_PAUSE = 3, 60.0
UNREAD_SECONDS = 14 * 24 * 3600
# On PostgreSQL a notification queued or a push held sends a NOTIFY here when its
# transaction commits (the trigger of migration 0005): the worker waits on it.
CHANNEL = "kreide_notifications"


def user_group(user_id: int) -> str:
    """The channel-layer group of one person's open pages."""
    return f"notifications.user.{user_id}"


def endpoint_allowed(endpoint: str) -> bool:
    """Is this a push service Kreide may post to (KREIDE_PUSH_SERVICES)?"""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if not host or parts.username or parts.password:
        return False
    for entry in settings.PUSH_SERVICES:
        entry = entry.strip().lower()
        if entry.startswith("http://"):
            if parts.scheme == "http" and f"http://{parts.netloc.lower()}" == entry:
                return True
        elif parts.scheme == "https" and port in (None, 443) and fnmatch(host, entry):
            return True
    return False


# --- quiet hours ------------------------------------------------------------------------
@dataclass(frozen=True)
class Quiet:
    starts: object
    ends: object
    for_students: bool
    for_everyone: bool

    def applies_to(self, role: str) -> bool:
        return self.for_everyone or (self.for_students and role == User.Role.STUDENT)

    def held_until(self, now: datetime) -> datetime | None:
        """The end of the quiet time `now` falls in, or None outside it."""
        local = timezone.localtime(now)
        clock = local.time()
        if self.starts == self.ends:
            return None
        if self.starts < self.ends:
            inside = self.starts <= clock < self.ends
        else:  # over midnight
            inside = clock >= self.starts or clock < self.ends
        if not inside:
            return None
        end = local.replace(hour=self.ends.hour, minute=self.ends.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)
        return end


DEFAULT_QUIET = QuietHours()


def quiet_hours(school_ids: Iterable[int]) -> dict[int, Quiet]:
    """Each school's quiet hours (the defaults where it set none): one query."""
    school_ids = set(school_ids)
    found = {row.school_id: row for row in QuietHours.unscoped.filter(school_id__in=school_ids)}
    quiet = {}
    for school_id in school_ids:
        row = found.get(school_id, DEFAULT_QUIET)
        quiet[school_id] = Quiet(row.starts, row.ends, row.for_students, row.for_everyone)
    return quiet


def preferences(user_ids: Iterable[int]) -> dict[int, Preferences]:
    """Each person's settings (unsaved defaults where they set none): one query."""
    user_ids = set(user_ids)
    found = {row.user_id: row for row in Preferences.unscoped.filter(user_id__in=user_ids)}
    return {pk: found.get(pk) or Preferences(user_id=pk) for pk in user_ids}


# --- pushing ----------------------------------------------------------------------------
@dataclass
class Pusher:
    """Sends encrypted pushes in parallel; removes subscriptions the service says are gone."""

    signer: vapid.Signer = field(default_factory=vapid.Signer)
    session: requests.Session = field(default_factory=requests.Session)
    failures: dict[str, int] = field(default_factory=dict)
    paused_until: dict[str, float] = field(default_factory=dict)
    sent: int = 0
    failed: int = 0

    def __post_init__(self) -> None:
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=PUSH_THREADS)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def _one(self, subscription: PushSubscription, payload: bytes) -> str:
        """ "sent", "gone" (404/410: the browser unsubscribed) or "failed"."""
        host = urlsplit(subscription.endpoint).netloc
        if self.paused_until.get(host, 0) > time.monotonic():
            return "failed"
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            response = WebPusher(info, requests_session=self.session).send(
                data=payload,
                headers={**self.signer.headers(subscription.endpoint), "Urgency": "normal"},
                ttl=PUSH_TTL,
                timeout=PUSH_TIMEOUT,
            )
        except (requests.RequestException, OSError, ValueError) as error:
            count = self.failures.get(host, 0) + 1
            self.failures[host] = count
            if count >= HOST_FAILURES:
                self.paused_until[host] = time.monotonic() + HOST_PAUSE
            logger.warning("push failed", extra={"host": host, "error": str(error)[:200]})
            return "failed"
        self.failures.pop(host, None)
        if response.status_code in (404, 410):
            return "gone"
        if response.status_code >= 400:
            logger.warning("push refused", extra={"host": host, "status": response.status_code})
            return "failed"
        return "sent"

    def push(self, messages: list[tuple[PushSubscription, dict]]) -> None:
        if not messages:
            return
        with ThreadPoolExecutor(max_workers=PUSH_THREADS) as pool:
            results = list(
                pool.map(lambda item: self._one(item[0], json.dumps(item[1]).encode()), messages)
            )
        gone = [
            sub.pk for (sub, _), result in zip(messages, results, strict=True) if result == "gone"
        ]
        if gone:
            PushSubscription.unscoped.filter(pk__in=gone).delete()
        self.sent += results.count("sent")
        self.failed += results.count("failed")


def _subscriptions(user_ids: Iterable[int]) -> dict[int, list[PushSubscription]]:
    found: dict[int, list[PushSubscription]] = defaultdict(list)
    for subscription in PushSubscription.unscoped.filter(user_id__in=set(user_ids)):
        if endpoint_allowed(subscription.endpoint):  # the list may have shrunk since
            found[subscription.user_id].append(subscription)
    return found


def _payload(note: Notification, count: int) -> dict:
    return {"title": "Kreide", "body": note.text, "url": note.url, "tag": note.kind, "count": count}


# --- live ------------------------------------------------------------------------------
def unread_key(user_id: int) -> str:
    """The cache key of one person's unread count (the navigation's bell)."""
    return f"notifications:unread:{user_id}"


def store_counts(user_ids: Iterable[int]) -> dict[int, int]:
    """Count the unread notifications of `user_ids` (one query) into the cache."""
    user_ids = set(user_ids)
    counts = dict.fromkeys(user_ids, 0)
    counts.update(
        Notification.unscoped.filter(user_id__in=user_ids, read_at__isnull=True)
        .values_list("user_id")
        .annotate(unread=Count("pk"))
        .values_list("user_id", "unread")
    )
    cache.set_many({unread_key(pk): n for pk, n in counts.items()}, UNREAD_SECONDS)
    return counts


def send_live(updates: dict[int, dict]) -> None:
    """One event per person to their open pages; a lost channel layer costs only this
    (the pages poll the count meanwhile)."""
    live.send(
        [
            (user_group(user_id), {"type": "notifications.update", "text": json.dumps(update)})
            for user_id, update in updates.items()
        ]
    )


# --- the queue --------------------------------------------------------------------------
def deliver_batch(pusher: Pusher | None = None, now: datetime | None = None) -> int:
    """Deliver the oldest undelivered notifications (at most BATCH); how many."""
    batch = list(
        Notification.unscoped.filter(delivered_at__isnull=True)
        .select_related("user")
        .order_by("pk")[:BATCH]
    )
    if not batch:
        return 0
    now = now or timezone.now()
    users = {note.user_id: note.user for note in batch}
    prefs = preferences(users)
    quiet = quiet_hours(note.school_id for note in batch)
    # Counted just before the pages are told, so the bell and the count agree.
    counts = store_counts(users)
    live: dict[int, dict] = {}
    pushes: list[tuple[PushSubscription, dict]] = []
    held: dict[datetime, list[int]] = defaultdict(list)
    push_users = [pk for pk in users if prefs[pk].push and users[pk].is_active]
    subscriptions = _subscriptions(push_users)
    for note in batch:
        pref, user = prefs[note.user_id], users[note.user_id]
        if pref.live:
            live[note.user_id] = {
                "type": "notification",
                "count": counts[note.user_id],
                "text": note.text,
                "url": note.url,
            }
        if not subscriptions.get(note.user_id) or not pref.sends(note.kind, user.role):
            continue
        until = None
        if quiet[note.school_id].applies_to(user.role):
            until = quiet[note.school_id].held_until(now)
        if until is not None:
            held[until].append(note.pk)
            continue
        for subscription in subscriptions[note.user_id]:
            pushes.append((subscription, _payload(note, counts[note.user_id])))
    send_live(live)
    if pushes:
        (pusher or Pusher()).push(pushes)
    for until, ids in held.items():
        Notification.unscoped.filter(pk__in=ids).update(push_held_until=until)
    Notification.unscoped.filter(pk__in=[note.pk for note in batch]).update(delivered_at=now)
    return len(batch)


def release_held(pusher: Pusher | None = None, now: datetime | None = None) -> int:
    """Quiet hours over: one push per person for what arrived meanwhile and is still
    unread. Returns how many people were pushed."""
    now = now or timezone.now()
    due = Notification.unscoped.filter(push_held_until__lte=now)
    ids = list(due.values_list("pk", flat=True)[: BATCH * 10])
    if not ids:  # the idle worker's every round: one query, not two
        return 0
    rows = list(due.filter(read_at__isnull=True).order_by("pk").values("user_id", "text", "url"))
    by_user: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_user[row["user_id"]].append(row)
    prefs = preferences(by_user)
    subscriptions = _subscriptions(pk for pk in by_user if prefs[pk].push)
    pushes = []
    for user_id, notes in by_user.items():
        if len(notes) == 1:
            body, url = notes[0]["text"], notes[0]["url"]
        else:
            with override("de"):
                body = ngettext(
                    "%(count)d new notification", "%(count)d new notifications", len(notes)
                ) % {"count": len(notes)}
            url = ""
        message = {
            "title": "Kreide",
            "body": body,
            "url": url,
            "tag": "summary",
            "count": len(notes),
        }
        pushes += [(subscription, message) for subscription in subscriptions.get(user_id, [])]
    if pushes:
        (pusher or Pusher()).push(pushes)
    Notification.unscoped.filter(pk__in=ids).update(push_held_until=None)
    return len([pk for pk in by_user if subscriptions.get(pk)])


def next_release() -> datetime | None:
    """When the next held push is due (None: none is held)."""
    return (
        Notification.unscoped.filter(push_held_until__isnull=False)
        .order_by("push_held_until")
        .values_list("push_held_until", flat=True)
        .first()
    )


def queue_length() -> int:
    return Notification.unscoped.filter(delivered_at__isnull=True).count()


def oldest_waiting() -> datetime | None:
    return (
        Notification.unscoped.filter(delivered_at__isnull=True)
        .order_by("pk")
        .values_list("created_at", flat=True)
        .first()
    )


def work_until_empty(pusher: Pusher | None = None, now: datetime | None = None) -> int:
    """Deliver everything waiting now (tests, the benchmark)."""
    pusher = pusher or Pusher()
    total = 0
    while done := deliver_batch(pusher, now):
        total += done
    return total
