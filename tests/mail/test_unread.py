"""The navigation's and the dashboard's unread count. With Kreide's Redis, Dovecot writes
each INBOX's unseen count there whenever a process changes it (notify_status: LMTP
delivery, the webmail, mail programs) and the pages read it with their other cache keys,
with no IMAP connection; without that key, or with Redis away, an IMAP STATUS as before."""

from __future__ import annotations

import smtplib
import uuid

import pytest
from django.core.cache import cache
from django.urls import reverse

from kreide.core import cache as kreide_cache
from kreide.mail import maildir, process, webmail
from kreide.mail.services import address_of
from tests.mail.conftest import needs_servers, wait_until

with_redis = pytest.mark.skipif(
    not process.unseen_prefix(), reason="Dovecot writes the counts into Kreide's Redis only"
)


def with_servers(test):
    """Real Dovecot and Postfix (PostgreSQL run only), what the test writes committed."""
    for mark in (needs_servers, pytest.mark.slow, pytest.mark.django_db(transaction=True)):
        test = mark(test)
    return test


def deliver(mail, user, subject: str) -> None:
    """Straight into Dovecot over LMTP, as Postfix delivers."""
    with smtplib.LMTP(mail.mail.host, mail.mail.ports.lmtp, timeout=10) as lmtp:
        refused = lmtp.sendmail(
            "eltern@example.org",
            [address_of(user)],
            f"Subject: {subject}\r\nFrom: eltern@example.org\r\n\r\nHallo\r\n".encode(),
        )
    assert not refused


def imap_unseen(user) -> int:
    with webmail.mailbox(user) as client:
        return client.folder_status("INBOX", [b"UNSEEN"])[b"UNSEEN"]


def shown(count: int) -> str:
    return f"{count} ungelesene E-Mail" if count else "Keine ungelesenen E-Mails"


@with_servers
@with_redis
def test_a_delivered_mail_is_counted_without_imap(
    mail, world, client_for, imap_traffic, cache_reads
):
    student = world.teacher_7a
    before = imap_unseen(student)
    key = webmail.unread_key(student)
    assert key.endswith(f"{address_of(student)}/status/INBOX")

    deliver(mail, student, f"Elternabend {uuid.uuid4().hex[:6]}")
    # Dovecot's LMTP process wrote the new count into Redis (its write is asynchronous).
    assert wait_until(lambda: cache.get(key) == before + 1, 10), cache.get(key)

    imap_traffic.clear()
    cache_reads.clear()
    page = client_for(student).get(reverse("dashboard:home")).content.decode()
    assert shown(before + 1) in page
    assert imap_traffic.connections == []
    # Read with the page's other keys, in its one round trip, not on its own.
    with_key = [keys for kind, keys in cache_reads if key in keys]
    assert len(with_key) == 1 and len(with_key[0]) > 1, cache_reads


@with_servers
@with_redis
def test_reading_a_mail_in_the_webmail_lowers_the_count(mail, world, client_for):
    teacher = world.teacher_7a
    subject = f"Zeugnisse {uuid.uuid4().hex[:6]}"
    deliver(mail, teacher, subject)
    unseen = imap_unseen(teacher)
    key = webmail.unread_key(teacher)
    assert wait_until(lambda: cache.get(key) == unseen, 10), cache.get(key)
    with webmail.mailbox(teacher) as client:
        uid = webmail.page(client, "INBOX", 1, subject).messages[0].uid

    client = client_for(teacher)
    assert client.get(reverse("mail:message", args=[uid])).status_code == 200

    # The webmail's IMAP process marked it seen and wrote the lower count.
    assert wait_until(lambda: cache.get(key) == unseen - 1, 10), cache.get(key)
    assert shown(unseen - 1) in client.get(reverse("dashboard:home")).content.decode()


@with_servers
@with_redis
def test_a_mailbox_without_a_count_is_counted_from_its_maildir(
    mail, world, client_for, imap_traffic
):
    """A mailbox unchanged since before Dovecot wrote counts has no key: its INBOX's files
    are counted (as STATUS counts: in `new`, or in `cur` without S among their flags), no
    IMAP connection, and the count is kept as Dovecot's key would be (never over a count
    Dovecot wrote since)."""
    student = world.student_7a
    for n in range(3):
        deliver(mail, student, f"Stunde {n} {uuid.uuid4().hex[:6]}")
    with webmail.mailbox(student) as client:  # Dovecot moves them to `cur`; one is read
        client.select_folder("INBOX")
        client.add_flags(client.search("ALL")[-1:], [b"\\Seen"])
    deliver(mail, student, f"Neu {uuid.uuid4().hex[:6]}")  # and one stays in `new`
    unseen = imap_unseen(student)
    assert maildir.unseen(address_of(student)) == unseen
    key = webmail.unread_key(student)
    # Dovecot wrote the count when that login made the mailbox, asynchronously: once it is
    # there, take it away, as for a mailbox from before Dovecot wrote counts.
    assert wait_until(lambda: cache.get(key) == unseen, 10), cache.get(key)
    cache.delete(key)
    client = client_for(student)

    imap_traffic.clear()
    assert shown(unseen) in client.get(reverse("dashboard:home")).content.decode()
    assert imap_traffic.connections == []
    assert cache.get(key) == unseen
    assert cache.ttl(key) > webmail.UNREAD_CACHE_SECONDS  # kept as long as Dovecot's


@with_servers
def test_with_redis_away_the_count_comes_from_the_maildir_or_imap(
    mail, world, client_for, imap_traffic, monkeypatch
):
    teacher = world.teacher_7a
    deliver(mail, teacher, f"Ohne Redis {uuid.uuid4().hex[:6]}")
    unseen = imap_unseen(teacher)
    client = client_for(teacher)
    client.get(reverse("dashboard:home"))  # the session is in the database too
    # Kreide's view of a Redis that does not answer: the breaker is open, every command
    # fails at once (kreide/core/cache.py).
    away = kreide_cache.CircuitBreaker(3600)
    away.failed()
    monkeypatch.setattr(kreide_cache, "breaker", away)

    imap_traffic.clear()
    dashboard = client.get(reverse("dashboard:home"))
    assert dashboard.status_code == 200
    assert shown(unseen) in dashboard.content.decode()
    assert imap_traffic.connections == []
    # A Maildir this process cannot read (another user's files): an IMAP STATUS.
    monkeypatch.setattr(maildir, "path", lambda address: "/nonexistent/Maildir")
    dashboard = client.get(reverse("dashboard:home"))
    assert shown(unseen) in dashboard.content.decode()
    assert len(imap_traffic.connections) >= 1
    inbox = client.get(reverse("mail:inbox"))
    assert inbox.status_code == 200
    assert "Ohne Redis" in inbox.content.decode()


@pytest.mark.parametrize(
    ("url", "wanted"),
    [
        ("redis://localhost:6380/3", "redis:host=127.0.0.1:port=6380:db=3:prefix=kreide/unseen/"),
        ("redis://:geheim@127.0.0.1/2", "redis:host=127.0.0.1:port=6379:db=2:password=geheim:"),
        ("unix:///run/redis.sock?db=4", "redis:path=/run/redis.sock:db=4:"),
        ("", ""),  # the embedded default: no counts in Dovecot, the IMAP STATUS as before
        ("rediss://127.0.0.1/1", ""),  # Dovecot's redis dict speaks no TLS
        ("redis://kreide:geheim@127.0.0.1/1", ""),  # nor ACL users
        ("redis://:ge:heim@127.0.0.1/1", ""),  # ':' separates the dict URI's values
    ],
)
def test_dovecot_reaches_kreides_redis_where_its_dict_can(settings, url, wanted):
    settings.REDIS_URL, settings.REDIS_SENTINELS, settings.CACHE_PREFIX = url, None, "kreide"
    found = process.unseen_dict()
    assert found.startswith(wanted) if wanted else found == ""
    assert bool(process.unseen_prefix()) == bool(wanted)
    if wanted:
        assert ":expire_secs=604800:" in found


def test_no_counts_in_dovecot_with_redis_sentinels(settings):
    settings.REDIS_URL = "redis+sentinel://127.0.0.1:26379/kreide/1"
    settings.REDIS_SENTINELS = object()
    assert process.unseen_dict() == "" and process.unseen_prefix() == ""


@pytest.mark.django_db
def test_a_page_works_out_the_unread_key_once(world, rf, monkeypatch):
    asked = []
    unseen_prefix = process.unseen_prefix
    monkeypatch.setattr(process, "unseen_prefix", lambda: asked.append(1) or unseen_prefix())
    request = rf.get("/")
    request.user = student = world.student_7a
    key = webmail.unread_key(student, request)
    assert webmail.unread_key(student, request) == key  # the page's keys, then its count
    assert len(asked) == 1
    assert webmail.unread_key(student) == key  # without a request: worked out each time
    assert len(asked) == 2
