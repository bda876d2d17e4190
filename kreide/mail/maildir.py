"""The webmail's look at an account's Maildir, which needs no IMAP connection.

Dovecot keeps each mail as a file in its folder's `new` or `cur` directory (a delivery
renames it in from `tmp`: it is there or not) and its flags in the file's name (`…:2,S`
once seen), so the folders' file names are the mailbox's state at that moment, read
with no count or copy kept anywhere that could be stale. Used for the unread count
without a key of Dovecot's, an empty mailbox's folder list, and as the marker behind
which the inbox keeps the listing it last read over IMAP (`kept`, `keep`).

Anything the look cannot tell — mail not set up, a mailbox not made yet or not readable
by this process, Dovecot not running — is None, and IMAP tells, as before.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from kreide.mail import health, process, services

if TYPE_CHECKING:
    from kreide.mail.webmail import Folder, Page

# The folders Dovecot creates by itself (`auto = subscribe`, scripts/mail/templates/dovecot.conf).
AUTOCREATED = ("Drafts", "Sent", "Trash", "Junk")
_FOLDER_DIRS = frozenset(f".{name}" for name in AUTOCREATED)  # Maildir++: `.Sent` …
_SEEN_INFO = ":2,"  # a file name's flags follow it; S is \Seen


@lru_cache(maxsize=8)
def _under(mail_dir: str | Path) -> tuple[str, process.MailLayout]:
    """The mailboxes' directory of a mail directory and a layout to find Dovecot's PID
    file by, worked out once (~30 Python calls each time)."""
    mail = process.layout(mail_dir)
    return str(mail.mailboxes), mail


def path(address: str) -> str:
    """The account's Maildir (Dovecot's `home=<mailboxes>/<domain>/<local part>`,
    `mail_location = maildir:~/Maildir`)."""
    local, domain = services.split_address(address)
    return f"{_under(settings.MAIL_DIR)[0]}/{domain}/{local}/Maildir"


def _dovecot_running() -> bool:
    return process.dovecot_running(_under(settings.MAIL_DIR)[1])


def _unseen(new: list[str], cur: list[str]) -> int:
    # A mail in `new` has no flags yet; one in `cur` is seen once its flags hold an S.
    return len(new) + sum("S" not in name.partition(_SEEN_INFO)[2] for name in cur)


def unseen(address: str) -> int | None:
    """The INBOX's unseen mails, as Dovecot's STATUS (UNSEEN) would count them now."""
    if not health.configured():
        return None
    maildir = path(address)
    try:
        count = _unseen(os.listdir(f"{maildir}/new"), os.listdir(f"{maildir}/cur"))
    except OSError:
        return None
    return count if _dovecot_running() else None


@dataclass(frozen=True)
class Look:
    """A Maildir's folder directories and their mail files' names, as they were read."""

    maildir: str
    # "" (INBOX), ".Sent", …: the names in `new` and in `cur`
    folders: dict[str, tuple[list[str], list[str]]]
    # Each folder's UID list as a file (inode, modification time): Dovecot writes it anew
    # when it renumbers a folder (a new UIDVALIDITY), which leaves the mails' names as
    # they were. 0, 0 where a folder has none yet.
    uid_lists: tuple[tuple[int, int], ...]

    @property
    def empty(self) -> bool:
        """No mail in any folder, and only the folders Dovecot creates by itself."""
        return self.folders.keys() - {""} == _FOLDER_DIRS and not any(
            new or cur for new, cur in self.folders.values()
        )

    @cached_property
    def marker(self) -> bytes:
        """Changes with any mail's arrival, removal, move or flags, a folder's creation or
        removal, and a folder's renumbering: exact names, not the directories' times (a
        file system keeps those coarser than two changes can be apart)."""
        digest = hashlib.blake2b(repr(self.uid_lists).encode(), digest_size=16)
        for name, (new, cur) in self.folders.items():  # in the order of their names
            digest.update("\0".join((name, *sorted(new), "\1", *sorted(cur), "\2")).encode())
        return digest.digest()


def _uid_list(folder: str) -> tuple[int, int]:
    try:
        found = os.stat(f"{folder}/dovecot-uidlist")
    except FileNotFoundError:
        return 0, 0
    return found.st_ino, found.st_mtime_ns


def _read(maildir: str) -> Look | None:
    try:
        with os.scandir(maildir) as entries:
            names = sorted(["", *(e.name for e in entries if e.name[0] == "." and e.is_dir())])
        folders = {
            name: (os.listdir(f"{maildir}/{name}/new"), os.listdir(f"{maildir}/{name}/cur"))
            for name in names
        }
        uid_lists = tuple(_uid_list(f"{maildir}/{name}") for name in names)
    except OSError:
        return None
    if not _dovecot_running():
        return None
    return Look(maildir, folders, uid_lists)


def look(address: str) -> Look | None:
    """The mailbox as its directories tell now; None where they cannot tell (see above)."""
    return _read(path(address)) if health.configured() else None


# The inbox's listings as last read over IMAP, per Maildir, folder and page, with the
# marker they were read under; this process only, never written anywhere (mail subjects
# and senders), and shown only while the marker is unchanged.
_kept: dict[tuple[str, str, int], tuple[bytes, float, Sequence[Folder], Page]] = {}
KEEP_SECONDS = 900.0
_LIMIT = 5_000  # listings a process keeps; a full table starts over


def kept(seen: Look, folder: str, number: int) -> tuple[Sequence[Folder], Page] | None:
    """The folder list and page kept for this mailbox, folder and page number, if its
    mailbox has not changed since they were read."""
    entry = _kept.get((seen.maildir, folder, number))
    if entry is None or entry[0] != seen.marker or entry[1] < time.monotonic():
        return None
    return entry[2], entry[3]


def keep(seen: Look, folder: str, number: int, folders: Sequence[Folder], page: Page) -> None:
    """Keep what IMAP just listed, read after `seen`, if the mailbox is still as `seen`
    found it (a change in between: not kept, the next opening asks IMAP again)."""
    again = _read(seen.maildir)
    if again is None or again.marker != seen.marker:
        return
    if len(_kept) >= _LIMIT:
        _kept.clear()
    expires = time.monotonic() + KEEP_SECONDS
    _kept[(seen.maildir, folder, number)] = (seen.marker, expires, folders, page)


def forget(maildir: str) -> None:
    """Drop this process's listings of a Maildir (`path`): its account was erased, or a
    retention rule thinned it (no longer shown anyway: its marker changed)."""
    for key in [key for key in list(_kept) if key[0] == maildir]:  # list(): atomic
        _kept.pop(key, None)
