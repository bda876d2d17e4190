"""One account's mailbox as a whole: created with the account, counted, copied for an
access request, thinned by a retention rule, removed when the account is erased
(kreide.privacy asks these).

Mails are read and deleted over IMAP as the account (Dovecot's master login), like the
webmail; only the removal of the whole mailbox works on the directory Dovecot keeps it in
(`home=<mailboxes>/<domain>/<local part>`, scripts/mail/templates/dovecot.conf), because
an erased account can no longer sign in to empty it (the webmail's own look at the
directory is kreide/mail/maildir.py).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.utils import timezone

from kreide.accounts.models import User
from kreide.mail import health, maildir, process, services, webmail
from kreide.schools.models import School

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    folder: str
    uid: int
    date: datetime
    flags: list[str]
    content: bytes


def count(user: User) -> int | None:
    """Mails in all folders of the account; None without mail servers (or while down)."""
    try:
        with webmail.mailbox(user) as client:
            return sum(folder.total for folder in webmail.folders(client))
    except webmail.MailUnavailable:
        return None


def mails(user: User) -> Iterator[Mail]:
    """Every mail of the account, one at a time (memory stays bounded); nothing without
    mail servers. Raises webmail.MailUnavailable when they are set up but do not answer."""
    if not health.configured():
        return
    with webmail.mailbox(user) as client:
        for folder in sorted(webmail.folder_names(client)):
            client.select_folder(folder, readonly=True)
            for uid in client.search("ALL"):
                data = client.fetch([uid], ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])[uid]
                yield Mail(
                    folder,
                    uid,
                    data[b"INTERNALDATE"],
                    sorted(flag.decode() for flag in data[b"FLAGS"]),
                    data[b"BODY[]"],
                )


def delete_before(user: User, cutoff: datetime, *, dry_run: bool = False) -> int:
    """Delete (or, dry, count) the account's mails received before `cutoff`'s day (its
    local day: IMAP's BEFORE compares dates in Dovecot's time zone, the school's)."""
    if not health.configured():
        return 0
    found = 0
    with webmail.mailbox(user) as client:
        for folder in webmail.folder_names(client):
            client.select_folder(folder, readonly=dry_run)
            uids = client.search(["BEFORE", timezone.localdate(cutoff)])
            found += len(uids)
            if uids and not dry_run:
                client.delete_messages(uids)
                client.expunge()
    if found and not dry_run:
        maildir.forget(maildir.path(services.address_of(user)))
    return found


def _created(home: Path) -> bool:
    """Dovecot has made this mailbox and every folder it creates by itself (its Maildir++
    directories `.Drafts`, `.Sent`, …: `webmail.AUTOCREATED`)."""
    maildir = home / "Maildir"
    return all((maildir / f".{name}").is_dir() for name in webmail.AUTOCREATED)


def create(users: Iterable[User], progress: Callable[[int], object] | None) -> int:
    """Open each account's mailbox once as the webmail's first inbox would (LIST-STATUS:
    Dovecot makes the mailbox, its folders and their indexes), so that work is not done at
    8:00; how many were made. Stops at the first connection that fails (mail is down:
    nothing lost, the first opening makes them as before)."""
    made = 0
    for user in users:
        try:
            with webmail.mailbox(user) as client:
                webmail.folders(client)
        except webmail.MailUnavailable as error:
            logger.warning("mailboxes not created", extra={"error": str(error)})
            break
        made += 1
        if progress is not None:
            progress(1)
    return made


def created_accounts(school_id: int, user_ids: list[int], **payload: object) -> None:
    """`accounts.users_created`: asks `kreide mail-start` to make the new accounts'
    mailboxes (`wanted`), not the request: an import's hundreds of accounts would be a
    minute of IMAP connections in the school office's browser. Nothing without mail
    servers; before mail-start ever ran, its start-up pass makes them anyway."""
    if health.configured():
        with contextlib.suppress(FileNotFoundError):
            _wanted_mark().touch()


def wanted() -> bool:
    """Whether accounts were created since the last look (the mark is taken)."""
    try:
        _wanted_mark().unlink()
    except FileNotFoundError:
        return False
    return True


def _wanted_mark() -> Path:
    return process.layout().root / "mailboxes-wanted"


def missing() -> list[User]:
    """Active accounts in a school whose mailbox Dovecot has not made yet (accounts from
    before mail ran, or made while it was down): one look at the disk per account, no
    connection for those that have one."""
    root = process.layout().mailboxes
    found = []
    for school in School.objects.all():
        domain = services.school_domain(school)
        for user in User.objects.for_school(school).filter(is_active=True).order_by("pk"):
            user.school = school  # address_of() needs it: no query per account
            if not _created(_home(root, services.address_of(user, domain))):
                found.append(user)
    return found


def location(user: User) -> Path | None:
    """Where Dovecot keeps the account's mailbox; None for operators without a school."""
    address = services.address_of(user)
    if not address:
        return None
    return _home(process.layout().mailboxes, address)


def _home(root: Path, address: str) -> Path:
    local, domain = services.split_address(address)
    return root / domain / local


def remove(path: Path | None, logins: list[str]) -> bool:
    """Remove a mailbox directory (computed by `location` before the account went) and
    make Dovecot forget the account's remembered logins; True if there was one."""
    if path is None or not path.exists():
        return False
    shutil.rmtree(path)
    maildir.forget(str(path / "Maildir"))
    if health.configured():
        process.flush_auth_cache(process.layout(), logins)
    return True
