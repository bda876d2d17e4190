"""A person's copy of everything Kreide holds about them (Art. 15 GDPR), as a ZIP:

    LIESMICH.txt             what is where, in German and English
    daten/<model>.json       every row of each model in personal.CATALOGUE that refers to
                             the person (machine-readable; secrets are replaced by a note)
    dateien/<model>/<id>-<name>  the stored files those rows refer to
    mail/<folder>/<uid>.eml  the mails of their mailbox (when this Kreide runs mail)

Built by the worker (`kreide access-exports`, started by `kreide serve`) through
kreide.storage.zipstream into `<name>.part` beside the target and renamed only when
complete, so a failed export (a full disk) never leaves a file that looks finished.
Progress (rows, bytes and mails done of the total) is saved about once a second.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from kreide.accounts.models import User
from kreide.mail import mailboxes, webmail
from kreide.privacy import personal
from kreide.privacy.models import AccessExport
from kreide.storage.filenames import safe_filename
from kreide.storage.models import Blob
from kreide.storage.zipstream import stream_zip
from kreide.transfer import codec

logger = logging.getLogger("kreide.privacy")
WITHHELD = "[not included: a secret or its hash]"
README = """Kreide: Auskunft nach Art. 15 DSGVO / copy of your data (Art. 15 GDPR)

daten/<Tabelle>.json   Alle Zeilen, die sich auf die Person beziehen, als JSON
                       (Zeitangaben in UTC). / Every row referring to the person.
dateien/               Die Dateien zu diesen Zeilen. / The files of those rows.
mail/                  Die E-Mails des Postfachs (.eml). / The mailbox's mails.
inhalt.json            Verzeichnis mit Anzahl je Tabelle. / Index with counts.

Geheimnisse (Passwort-Hashes, Schlüssel, Token) sind nicht enthalten.
Secrets (password hashes, keys, tokens) are not included.
"""


class ExportFailed(Exception):
    """The export could not be written; the message is for the person who asked."""


def path_of(export: AccessExport) -> Path:
    return Path(settings.PRIVACY_EXPORT_DIR) / f"{export.pk}.zip"


def _blob_fields(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.is_relation and f.related_model is Blob]


def _row(entry: personal.Personal, row: dict) -> dict:
    return {key: WITHHELD if key in entry.withheld else codec.encode(v) for key, v in row.items()}


def _file_name(model: type[models.Model], pk, values: dict) -> str:
    name = values.get("filename") or values.get("name") or "Datei"
    return f"dateien/{model._meta.label_lower}/{pk}-{safe_filename(str(name))}"


class _Progress:
    """Saves done/total to the export row at most once a second (and a heartbeat)."""

    def __init__(self, export: AccessExport, total: int) -> None:
        self.export, self.saved_at = export, 0.0
        export.total, export.done = total, 0
        self.save(force=True)

    def add(self, amount: int) -> None:
        self.export.done += amount
        self.save()

    def save(self, force: bool = False) -> None:
        if force or time.monotonic() - self.saved_at >= 1:
            self.saved_at = time.monotonic()
            AccessExport.objects.for_school(self.export.school_id).filter(pk=self.export.pk).update(
                done=min(self.export.done, self.export.total),
                total=self.export.total,
                heartbeat_at=timezone.now(),
            )


def _plan(subject: User) -> tuple[list[tuple[personal.Personal, list[dict]]], list, int]:
    """Every row and file to write, and the total of rows + file bytes for the progress."""
    tables, files = [], []
    total = 0
    for entry in personal.CATALOGUE:
        model = entry.model
        names = [f.attname for f in model._meta.concrete_fields]
        rows = list(entry.rows_of(subject).values(*names))
        tables.append((entry, rows))
        total += len(rows)
        blob_fields = _blob_fields(model)
        for row in rows:
            for f in blob_fields:
                if row[f.attname] is not None:
                    pk = row[model._meta.pk.attname]
                    files.append((_file_name(model, pk, row), row[f.attname]))
    blobs = Blob.objects.in_bulk({pk for _name, pk in files})
    files = [(name, blobs[pk]) for name, pk in files if pk in blobs]
    total += sum(blob.size for _name, blob in files)
    return tables, files, total


def _members(
    subject: User, now: datetime, progress: _Progress, tables, files
) -> Iterator[tuple[str, Blob | bytes, datetime]]:
    index = {"person": subject.pk, "created": now.isoformat(), "tables": {}, "files": 0}
    yield "LIESMICH.txt", README.encode("utf-8"), now
    for entry, rows in tables:
        data = json.dumps(
            {
                "model": entry.label,
                "activity": personal.ACTIVITIES[entry.activity],
                "rows": [_row(entry, row) for row in rows],
            },
            ensure_ascii=False,
            indent=1,
            sort_keys=True,
        ).encode("utf-8")
        index["tables"][entry.label] = len(rows)
        yield f"daten/{entry.label}.json", data, now
        progress.add(len(rows))
    for name, blob in files:
        yield name, blob, now
        index["files"] += 1
        progress.add(blob.size)
    mails = 0
    for mail in mailboxes.mails(subject):
        folder = safe_filename(mail.folder, "INBOX")
        yield f"mail/{folder}/{mail.uid}.eml", mail.content, mail.date
        mails += 1
    index["mails"] = mails
    yield "inhalt.json", json.dumps(index, ensure_ascii=False, indent=1).encode(), now


def build(export: AccessExport) -> Path:
    """Write the export's ZIP; raises ExportFailed with a message for the person."""
    now = timezone.now()
    target = path_of(export)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    tables, files, total = _plan(export.subject)
    progress = _Progress(export, total)
    try:
        with open(partial, "wb") as out:
            for chunk in stream_zip(_members(export.subject, now, progress, tables, files)):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, target)
    except OSError as error:
        partial.unlink(missing_ok=True)
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ExportFailed(
                _("The server's disk is full. Nothing was kept; please ask again later.")
            ) from error
        logger.exception("access export %s failed", export.pk)
        raise ExportFailed(_("The copy could not be written. Please ask again later.")) from error
    except webmail.MailUnavailable as error:
        partial.unlink(missing_ok=True)
        raise ExportFailed(
            _("The mailbox could not be read right now. Please ask again later.")
        ) from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    progress.export.done = total
    progress.save(force=True)
    return target
