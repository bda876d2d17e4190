"""One account's mailbox as a whole: counted, copied for an access request, thinned by a
retention rule, removed when the account is erased (kreide.privacy asks these).

Mails are read and deleted over IMAP as the account (Dovecot's master login), like the
webmail; only the removal of the whole mailbox works on the directory Dovecot keeps it in
(`home=<mailboxes>/<domain>/<local part>`, scripts/mail/templates/dovecot.conf), because
an erased account can no longer sign in to empty it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kreide.accounts.models import User
from kreide.mail import health, process, services, webmail


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
    """Delete (or, dry, count) the account's mails received before `cutoff`'s day."""
    if not health.configured():
        return 0
    found = 0
    with webmail.mailbox(user) as client:
        for folder in webmail.folder_names(client):
            client.select_folder(folder, readonly=dry_run)
            uids = client.search(["BEFORE", cutoff.date()])
            found += len(uids)
            if uids and not dry_run:
                client.delete_messages(uids)
                client.expunge()
    return found


def location(user: User) -> Path | None:
    """Where Dovecot keeps the account's mailbox; None for operators without a school."""
    address = services.address_of(user)
    if not address:
        return None
    local, domain = services.split_address(address)
    return process.layout().mailboxes / domain / local


def remove(path: Path | None, logins: list[str]) -> bool:
    """Remove a mailbox directory (computed by `location` before the account went) and
    make Dovecot forget the account's remembered logins; True if there was one."""
    if path is None or not path.exists():
        return False
    shutil.rmtree(path)
    if health.configured():
        process.flush_auth_cache(process.layout(), logins)
    return True
