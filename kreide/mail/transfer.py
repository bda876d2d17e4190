"""Every mailbox of a school in its archive (`kreide export` / `import` / `verify`).

The mails are read and written over IMAP as each account (Dovecot's master login), so the
archive does not depend on Dovecot's mailbox format: `mail/<sha256>` holds each mail's
content once, `mail/index.jsonl` one line per mail (account, folder, flags, date, SHA-256).
Both are listed in the manifest with sizes and checksums and verified like every other
part. A deployment without mail servers exports no mail section.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Callable
from datetime import datetime
from itertools import groupby

from kreide.accounts.models import User
from kreide.mail import health, webmail
from kreide.transfer import archive

FIELDS = ("username", "folder", "flags", "date", "sha256")
_NOT_COPIED = {"\\Recent"}


class MailTransferError(Exception):
    """Mail could not be read or written (servers down, or not set up on this side)."""


def export_mail(tar: tarfile.TarFile, school, add: Callable, now: float) -> dict | None:
    """Write the school's mails into the archive; the manifest's mail section, or None
    when this deployment has no mail servers."""
    if not health.configured():
        return None
    rows, contents = [], {}
    users = User.objects.for_school(school).order_by("username")
    try:
        for user in users.iterator():
            with webmail.mailbox(user) as client:
                for folder in sorted(webmail.folder_names(client)):
                    client.select_folder(folder, readonly=True)
                    for uid in client.search("ALL"):  # one at a time: memory stays bounded
                        data = client.fetch([uid], ["FLAGS", "INTERNALDATE", "BODY.PEEK[]"])[uid]
                        content = data[b"BODY[]"]
                        sha256 = hashlib.sha256(content).hexdigest()
                        if sha256 not in contents:
                            add(
                                tar,
                                archive.mail_path(sha256),
                                len(content),
                                io.BytesIO(content),
                                now,
                            )
                            contents[sha256] = len(content)
                        flags = sorted(
                            flag.decode()
                            for flag in data[b"FLAGS"]
                            if flag.decode() not in _NOT_COPIED
                        )
                        rows.append(
                            (
                                user.username,
                                folder,
                                flags,
                                data[b"INTERNALDATE"].isoformat(),
                                sha256,
                            )
                        )
    except webmail.MailUnavailable as error:
        raise MailTransferError(f"The mailboxes could not be read: {error}") from error
    rows.sort(key=lambda row: (row[0], row[1], row[3], row[4]))
    index = b"".join(
        json.dumps(dict(zip(FIELDS, row, strict=True)), ensure_ascii=False, sort_keys=True).encode()
        + b"\n"
        for row in rows
    )
    add(tar, archive.MAIL_INDEX, len(index), io.BytesIO(index), now)
    return {
        "index": {
            "path": archive.MAIL_INDEX,
            "count": len(rows),
            "size": len(index),
            "sha256": hashlib.sha256(index).hexdigest(),
            "fields": list(FIELDS),
        },
        "messages": [{"sha256": sha, "size": size} for sha, size in sorted(contents.items())],
    }


def check_importable(manifest: archive.Manifest) -> None:
    """Before anything is written: an archive with mails needs running mail servers here."""
    if manifest.mail_index is not None and manifest.mail_index.count and health.problem():
        raise MailTransferError(
            f"The archive carries {manifest.mail_index.count} mails, but this deployment's "
            "mail servers are not running (kreide mail-start): start them, then import again."
        )


def _empty(client) -> None:
    """An imported account's mailbox holds exactly the archive's mails: whatever a former
    account of the same address left (or a replaced school) goes."""
    for folder in webmail.folder_names(client):
        client.select_folder(folder)
        uids = client.search("ALL")
        if uids:
            client.delete_messages(uids)
            client.expunge()


def import_mail(reader: archive.Reader, manifest: archive.Manifest, school_pk: int) -> int:
    """Put every mail of the archive into the imported accounts' mailboxes; the count."""
    if manifest.mail_index is None:
        return 0
    with reader.open(manifest.mail_index.path) as handle:
        rows = [json.loads(line) for line in handle]
    users = {
        user.username: user for user in User.objects.for_school(school_pk).select_related("school")
    }
    written = 0
    try:
        for username, entries in groupby(rows, key=lambda row: row["username"]):
            with webmail.mailbox(users[username]) as client:
                _empty(client)
                existing = webmail.folder_names(client)
                for row in entries:
                    if row["folder"] not in existing:
                        client.create_folder(row["folder"])
                        existing.add(row["folder"])
                    with reader.open(archive.mail_path(row["sha256"])) as content:
                        client.append(
                            row["folder"],
                            content.read(),
                            flags=[flag.encode() for flag in row["flags"]],
                            msg_time=datetime.fromisoformat(row["date"]),
                        )
                    written += 1
    except (webmail.MailUnavailable, KeyError) as error:
        raise MailTransferError(
            f"{written} of {len(rows)} mails were imported, then: {error!r}"
        ) from error
    return written
