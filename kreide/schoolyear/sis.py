"""Sync with the school administration software (Schulverwaltungssoftware, "SIS").

Three formats, all described in docs/school-year.md:

- Kreide's generic CSV: columns `id`, `last_name`, `first_name`, `class`, optional
  `role` (student or teacher) and `email`; `id` is the stable id the school's software
  gives the person.
- SchILD-NRW's text export ("Datenaustausch › Export in Text-/Excel-Dateien", data kind
  Schüler, `;` separated): columns `Interne ID-Nummer`, `Nachname`, `Vorname`, `Klasse`,
  optional `Status` and `E-Mail (Schule)`.
- ASV's (Bavaria's Amtliche Schulverwaltung) XML export for a grade book ("Export für eine
  Notenverwaltung"): the `export.xml` of its encrypted ZIP, students as `<schuelerin>` in
  `<klasse>`/`<klassengruppe>` with the stable `<lokales_differenzierungsmerkmal>`.

People are matched by that stable id (`User.sis_id`). `diff_for` shows what an import
would change: new people, changed names or e-mail, a moved class, people who left (gone
from the export, or with a status that means they left). The one exception to "never by
name": a school whose accounts were made before its first sync (CSV import, by hand) has
accounts without an id, so for ids Kreide does not know yet `diff_for` proposes links to
such accounts when name and class match exactly one row both ways; the office confirms
them with the rest of the plan, and from then on the id alone matches. `apply` writes it
through the account import (`kreide.accounts.services.import_users`, the same code as the
office's CSV import: accounts, classes, memberships, passwords, audit) and deactivates
who left — never deletes them. The office confirms the preview it saw: `apply` is given
the preview's `SyncDiff.digest()` and, in its one write transaction, works the diff out
again and refuses (`SyncRefused`, nothing written) when accounts changed meanwhile.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from xml.parsers import expat

from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kreide.accounts import events as account_events
from kreide.accounts import importing
from kreide.accounts import services as account_services
from kreide.accounts.importing import ImportRow, RowError
from kreide.accounts.models import User
from kreide.core import audit
from kreide.core.errors import Refusal
from kreide.schools.access import require_admin
from kreide.schools.demo import ascii_fold, ascii_username
from kreide.schools.models import Group, Membership, School
from kreide.schoolyear.services import fingerprint

audit.declare(
    {
        "sis.synced": gettext_lazy("Synced with the school administration software"),
        "sis.linked": gettext_lazy("Linked to the school administration software"),
    }
)


class SyncRefused(Refusal):
    status = 409
    code = "sis_sync_refused"


_CHANGED = gettext_lazy(
    "Accounts changed since the preview, so nothing was applied. Please check the new preview."
)


MAX_ROWS = importing.MAX_ROWS
GENERIC = "generic"
SCHILD = "schild"
ASV = "asv"
FORMATS = {GENERIC: "Kreide CSV", SCHILD: "SchILD-NRW", ASV: "ASV (Bayern)"}

# column name → field, per format (names compared in lower case)
_COLUMNS = {
    GENERIC: {
        "id": "sis_id",
        "last_name": "last_name",
        "first_name": "first_name",
        "class": "class_name",
        "role": "role",
        "email": "email",
    },
    SCHILD: {
        "interne id-nummer": "sis_id",
        "nachname": "last_name",
        "vorname": "first_name",
        "klasse": "class_name",
        "status": "status",
        "e-mail (schule)": "email",
    },
}
# ASV's elements of a <schuelerin> (and its <klasse>'s name) that Kreide reads.
_ASV_FIELDS = {
    "lokales_differenzierungsmerkmal": "sis_id",
    "familienname": "last_name",
    "rufname": "first_name",
    "klassenname": "class_name",
}
_REQUIRED = ("sis_id", "last_name", "first_name", "class_name")
# SchILD-NRW's student states: 0 new, 1 waiting list, 2 active, 3 on leave, 6 external,
# 8 graduated, 9 left. Who is not active (or on leave) has no account in Kreide.
_SCHILD_ACTIVE = {"2", "3", "aktiv", "beurlaubt"}
_ROLES = {
    "": User.Role.STUDENT,
    "student": User.Role.STUDENT,
    "schüler": User.Role.STUDENT,
    "teacher": User.Role.TEACHER,
    "lehrer": User.Role.TEACHER,
    "lehrkraft": User.Role.TEACHER,
}


@dataclass(frozen=True)
class Record:
    line: int
    sis_id: str
    first_name: str
    last_name: str
    class_name: str
    role: str
    email: str
    active: bool


@dataclass
class Change:
    user: User
    record: Record
    changes: dict[str, list[str]]


@dataclass
class Candidate:
    """An account without an id that a new row might be (named in the preview's warning)."""

    user: User
    classes: list[str]

    def __str__(self) -> str:
        classes = ", ".join(self.classes) or "–"
        return f"{self.user.get_full_name()} ({self.user.username}, {classes})"


@dataclass
class SyncDiff:
    format: str
    new: list[Record] = field(default_factory=list)
    # Accounts without an id that this sync gives one: name and class match one row.
    linked: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    moved: list[Change] = field(default_factory=list)
    left: list[User] = field(default_factory=list)
    unchanged: int = 0
    records: list[Record] = field(default_factory=list)
    # sis id of a new row → accounts without an id it might be, not linked (ambiguous or
    # only half matching): the office checks them before applying.
    possible: dict[str, list[Candidate]] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.new or self.linked or self.changed or self.moved or self.left)

    @property
    def new_rows(self) -> list[tuple[Record, list[Candidate]]]:
        return [(record, self.possible.get(record.sis_id, [])) for record in self.new]

    def digest(self) -> str:
        """What applying would do, as the rollover's fingerprint: who is created, linked,
        changed, moved or deactivated, and the names and accounts the preview showed."""

        def change(c: Change) -> list:
            return [c.user.pk, c.user.username, c.record.sis_id, c.changes]

        return fingerprint(
            {
                "format": self.format,
                "records": [asdict(record) for record in self.records],
                "new": [record.sis_id for record in self.new],
                "linked": [change(c) for c in self.linked],
                "changed": [change(c) for c in self.changed],
                "moved": [change(c) for c in self.moved],
                "left": [[u.pk, u.sis_id, u.get_full_name()] for u in self.left],
                "unchanged": self.unchanged,
                "possible": {
                    sis_id: [str(candidate) for candidate in found]
                    for sis_id, found in self.possible.items()
                },
            }
        )

    def summary(self) -> dict[str, int]:
        return {
            "new": len(self.new),
            "linked": len(self.linked),
            "changed": len(self.changed),
            "moved": len(self.moved),
            "left": len(self.left),
            "unchanged": self.unchanged,
        }


def _format_of(header: list[str]) -> str | None:
    names = set(header)
    for name, columns in _COLUMNS.items():
        if {c for c, f in columns.items() if f in _REQUIRED} <= names:
            return name
    return None


def parse(data: bytes) -> tuple[str, list[Record]]:
    """The format and the records of an export; ImportFileError naming line and column of
    every problem (nothing is changed by a file with problems)."""
    if data.startswith(b"PK\x03\x04"):
        raise importing.ImportFileError(
            [
                RowError(
                    1,
                    "",
                    _(
                        "This is a ZIP file. ASV's export is a ZIP protected by a password: "
                        "unpack it with the password ASV showed and upload the export.xml "
                        "inside."
                    ),
                )
            ]
        )
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return ASV, _records(ASV, _asv_rows(data), list(_ASV_FIELDS), list(_ASV_FIELDS.values()))
    text, _encoding = importing.decode(data)
    if not text.strip():
        raise importing.ImportFileError([RowError(1, "", _("The file is empty."))])
    first = text.splitlines()[0]
    delimiter = max((";", ",", "\t", "|"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip().lower() for name in next(reader)]
    kind = _format_of(header)
    if kind is None:
        raise importing.ImportFileError(
            [
                RowError(
                    1,
                    "",
                    _(
                        "Unknown export: expected the columns id, last_name, first_name, "
                        "class (Kreide CSV) or Interne ID-Nummer, Nachname, Vorname, Klasse "
                        "(SchILD-NRW)."
                    ),
                )
            ]
        )
    fields = [_COLUMNS[kind].get(name) for name in header]
    return kind, _records(kind, _csv_rows(reader, fields), header, fields)


def _csv_rows(reader, fields: list[str | None]) -> Iterable[tuple[int, dict | RowError]]:
    """(line, row) per non-empty line; a broken file ends with (line, its RowError)."""
    try:
        for values in reader:
            if any(value.strip() for value in values):
                yield (
                    reader.line_num,
                    {f: v.strip() for f, v in zip(fields, values, strict=False) if f},
                )
    except csv.Error as error:
        message = _("The CSV structure is broken: %(error)s") % {"error": error}
        yield reader.line_num, RowError(reader.line_num, "", message)


def _records(
    kind: str, rows: Iterable[tuple[int, dict | RowError]], header, fields
) -> list[Record]:
    records: list[Record] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if isinstance(row, RowError):
            errors.append(row)
            break
        if len(records) >= MAX_ROWS:
            errors.append(
                RowError(line, "", _("At most %(count)d rows per file.") % {"count": MAX_ROWS})
            )
            break
        record, problems = _record(line, kind, row, seen, header, fields)
        errors += problems
        if record is not None:
            records.append(record)
        if len(errors) >= importing.MAX_ERRORS:
            break
    if errors:
        raise importing.ImportFileError(errors[: importing.MAX_ERRORS])
    if not records:
        raise importing.ImportFileError([RowError(2, "", _("The file contains no people."))])
    return records


class _AsvReader:
    """Reads ASV's export.xml with expat, so every student keeps the line it starts on:
    one row per <schuelerin> with the name of the <klasse> it is listed in. A vorangestellter
    Namensbestandteil ("von", "de") goes before the last name, as ASV prints it. A file
    with a DOCTYPE is refused (ASV writes none; entities are a way to attack parsers)."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, dict[str, str]]] = []
        self.path: list[str] = []
        self.text: list[str] = []
        self.klasse = ""
        self.student: dict[str, str] | None = None
        self.line = 0

    def start(self, name: str, _attributes) -> None:
        local = name.rsplit(" ", 1)[-1]
        if not self.path and local != "asv_export":
            raise ValueError("root")
        self.path.append(local)
        self.text = []
        if local == "schuelerin":
            self.student, self.line = {}, self.parser.CurrentLineNumber
        elif local == "klasse":
            self.klasse = ""

    def end(self, _name: str) -> None:
        local, parent = self.path.pop(), self.path[-1] if self.path else ""
        value = " ".join("".join(self.text).split())
        if local == "klassenname" and parent == "klasse":
            self.klasse = value
        elif self.student is not None and parent == "schuelerin":
            self.student[local] = value
        elif local == "schuelerin" and self.student is not None:
            row = {f: self.student.get(e, "") for e, f in _ASV_FIELDS.items() if f != "class_name"}
            prefix = self.student.get("namensbestandteil_vorangestellt", "")
            row["last_name"] = (
                f"{prefix} {row['last_name']}".strip() if prefix else row["last_name"]
            )
            row["class_name"] = self.klasse
            self.rows.append((self.line, row))
            self.student = None
        self.text = []

    def data(self, text: str) -> None:
        self.text.append(text)

    def doctype(self, *_args) -> None:
        raise ValueError("doctype")


def _asv_rows(data: bytes) -> list[tuple[int, dict[str, str]]]:
    reader = _AsvReader()
    parser = reader.parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler, parser.EndElementHandler = reader.start, reader.end
    parser.CharacterDataHandler = reader.data
    parser.StartDoctypeDeclHandler = reader.doctype
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise importing.ImportFileError(
            [
                RowError(
                    error.lineno,
                    "",
                    _("The XML structure is broken: %(error)s")
                    % {"error": expat.ErrorString(error.code)},
                )
            ]
        ) from None
    except ValueError:
        raise importing.ImportFileError(
            [
                RowError(
                    parser.CurrentLineNumber,
                    "",
                    _(
                        "Unknown XML file: expected ASV's export for a grade book "
                        "(export.xml with <asv_export>)."
                    ),
                )
            ]
        ) from None
    return reader.rows


def _record(line, kind, row, seen, header, fields) -> tuple[Record | None, list[RowError]]:
    column = {f: name for name, f in zip(header, fields, strict=True) if f}
    errors = []
    for name in _REQUIRED:
        if not row.get(name) and not (name == "class_name" and kind == SCHILD):
            errors.append(RowError(line, column[name], _("This value is missing.")))
    sis_id = row.get("sis_id", "")
    if len(sis_id) > 64:
        errors.append(RowError(line, column["sis_id"], _("At most 64 characters.")))
    elif sis_id in seen:
        errors.append(
            RowError(
                line, column["sis_id"], _("Already used in line %(line)d.") % {"line": seen[sis_id]}
            )
        )
    seen.setdefault(sis_id, line)
    for name in ("first_name", "last_name", "class_name"):
        if len(row.get(name, "")) > (100 if name == "class_name" else 150):
            errors.append(RowError(line, column[name], _("This value is too long.")))
    role = _ROLES.get(row.get("role", "").lower())
    if role is None:
        errors.append(
            RowError(line, column["role"], _("Unknown role “%(role)s”.") % {"role": row["role"]})
        )
    email = row.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(RowError(line, column["email"], _("This is not a valid e-mail address.")))
    active = kind != SCHILD or row.get("status", "2").lower() in _SCHILD_ACTIVE
    if active and not row.get("class_name"):
        errors.append(RowError(line, column["class_name"], _("This value is missing.")))
    if errors:
        return None, errors
    return Record(
        line,
        sis_id,
        row["first_name"],
        row["last_name"],
        row.get("class_name", ""),
        role,
        email,
        active,
    ), []


# --------------------------------------------------------------------------- the diff


def _current_classes(school: School, user_ids) -> dict[int, list[str]]:
    """Each account's active classes of this year by name (archives of past years aside)."""
    found: dict[int, list[str]] = {}
    for user_id, name in (
        Membership.objects.for_school(school)
        .filter(
            user_id__in=user_ids,
            group__kind=Group.Kind.CLASS,
            group__is_active=True,
            group__archived_year="",
        )
        .order_by("group__name")
        .values_list("user_id", "group__name")
    ):
        found.setdefault(user_id, []).append(name)
    return found


def _changes(user: User, record: Record) -> dict[str, list[str]]:
    changes = {
        name: [getattr(user, name), getattr(record, name)]
        for name in ("first_name", "last_name", "role")
        if getattr(user, name) != getattr(record, name)
    }
    if record.email and record.email != user.email:
        changes["email"] = [user.email, record.email]
    return changes


def diff_for(school: School, kind: str, records: list[Record]) -> SyncDiff:
    """What applying these records would change (at most 5 queries, nothing written)."""
    diff = SyncDiff(kind, records=records)
    accounts = {user.sis_id: user for user in User.objects.for_school(school).exclude(sis_id="")}
    classes = _current_classes(school, [user.pk for user in accounts.values()])
    listed = set()
    for record in records:
        user = accounts.get(record.sis_id)
        if not record.active:
            continue  # in the export but left: handled below like an absent one
        listed.add(record.sis_id)
        if user is None:
            diff.new.append(record)
            continue
        changes = _changes(user, record)
        if not user.is_active:
            changes["is_active"] = ["no", "yes"]
        before = classes.get(user.pk, [])
        moved = [name.lower() for name in before] != [record.class_name.lower()]
        if changes:
            diff.changed.append(Change(user, record, changes))
        if moved:
            diff.moved.append(
                Change(user, record, {"class": [", ".join(before), record.class_name]})
            )
        if not changes and not moved:
            diff.unchanged += 1
    # An export of students (SchILD's, ASV's) says nothing about teachers: only accounts
    # of a role the export lists can have left.
    roles = {record.role for record in records}
    diff.left = sorted(
        (
            u
            for sis_id, u in accounts.items()
            if sis_id not in listed and u.is_active and u.role in roles
        ),
        key=lambda u: (u.last_name, u.first_name, u.pk),
    )
    if diff.new:
        _propose_links(school, diff)
    return diff


def _name_key(first: str, last: str) -> tuple[str, str]:
    """Names as compared for a proposed link: case, umlauts and ß (ü = ue), accents and
    whitespace do not count."""
    return (" ".join(ascii_fold(first).split()), " ".join(ascii_fold(last).split()))


def _loose_key(first: str, last: str) -> tuple[str, str]:
    # Same last name and first given name: "Jonas Felix" in the export, "Jonas" in Kreide.
    first, last = _name_key(first, last)
    return (first.split(" ")[0], last)


def _propose_links(school: School, diff: SyncDiff) -> None:
    """Move new rows that are an existing active account without an id into `linked`:
    same name, role and class, and neither the row nor the account matches another one.
    The rest stays new, with the accounts it might be in `possible` (2 queries)."""
    unlinked = list(
        User.objects.for_school(school)
        .filter(sis_id="", is_active=True)
        .exclude(role=User.Role.PARENT)
        .order_by("last_name", "first_name", "pk")
    )
    if not unlinked:
        return
    classes = _current_classes(school, [user.pk for user in unlinked])
    by_name: dict[tuple[str, str], list[User]] = {}
    for user in unlinked:
        by_name.setdefault(_loose_key(user.first_name, user.last_name), []).append(user)

    def matches(record: Record) -> list[User]:
        key = _name_key(record.first_name, record.last_name)
        return [
            user
            for user in by_name.get(_loose_key(record.first_name, record.last_name), [])
            if _name_key(user.first_name, user.last_name) == key
            and user.role == record.role
            and record.class_name.lower() in {name.lower() for name in classes.get(user.pk, [])}
        ]

    found = {record.sis_id: matches(record) for record in diff.new}
    claimed = Counter(user.pk for users in found.values() for user in users)
    linked_ids = set()
    new = []
    for record in diff.new:
        users = found[record.sis_id]
        if len(users) == 1 and claimed[users[0].pk] == 1:
            user = users[0]
            changes = _changes(user, record)
            before = classes.get(user.pk, [])
            if [name.lower() for name in before] != [record.class_name.lower()]:
                changes["class"] = [", ".join(before), record.class_name]
            diff.linked.append(Change(user, record, changes))
            linked_ids.add(user.pk)
        else:
            new.append(record)
    diff.new = new
    for record in new:
        possible = [
            Candidate(user, classes.get(user.pk, []))
            for user in by_name.get(_loose_key(record.first_name, record.last_name), [])
            if user.pk not in linked_ids
        ]
        if possible:
            diff.possible[record.sis_id] = possible


# --------------------------------------------------------------------------- applying


@dataclass
class SyncResult:
    diff: SyncDiff
    imported: account_services.ImportResult
    deactivated: list[User]


def _username_base(record: Record) -> str:
    # The demo school's rule (ä → ae, accents dropped), as school offices expect it.
    return ascii_username(record.first_name.split()[0], record.last_name)[:140].strip(".") or "user"


def _new_usernames(records: list[Record]) -> dict[str, str]:
    """sis id → a free username ("vorname.nachname", then with a number) for new people."""
    bases = {record.sis_id: _username_base(record) for record in records}
    taken = (
        {
            name.lower()
            for name in User.objects.filter(
                username__iregex=r"^("
                + "|".join(re.escape(b) for b in set(bases.values()))
                + r")[0-9]*$"
            ).values_list("username", flat=True)
        }
        if bases
        else set()
    )
    found = {}
    for sis_id, base in bases.items():
        candidate, number = base, 1
        while candidate in taken:
            number += 1
            candidate = f"{base}{number}"
        UnicodeUsernameValidator()(candidate)
        taken.add(candidate)
        found[sis_id] = candidate
    return found


def apply(
    actor: User | None,
    school: School,
    diff: SyncDiff,
    *,
    expected: str = "",
    as_operator: bool = False,
) -> SyncResult:
    """Write the diff: new and changed people and their classes through the account import,
    then deactivate who left, all in one transaction. Given the `expected` digest of the
    preview the office confirmed, the diff is worked out again inside that transaction and
    SyncRefused when it differs; ImportFileError if an e-mail address belongs to another
    account. Nothing is written in either case."""
    if not as_operator:
        require_admin(actor, school)
    if expected and diff.digest() != expected:
        raise SyncRefused(_CHANGED)  # before the slow password hashing
    usernames = _new_usernames(diff.new)
    existing = {
        change.record.sis_id: change.user.username
        for change in diff.linked + diff.changed + diff.moved
    }
    touched = {record.sis_id for record in diff.new} | set(existing)
    rows = [
        ImportRow(
            record.line,
            existing.get(record.sis_id) or usernames[record.sis_id],
            record.first_name,
            record.last_name,
            record.role,
            [record.class_name],
            email=record.email,
            sis_id=record.sis_id,
        )
        for record in diff.records
        if record.active and record.sis_id in touched
    ]
    problems = importing.check_against_database(rows, school)
    if problems:
        raise importing.ImportFileError(problems)
    back = [change.user for change in diff.changed if "is_active" in change.changes]

    def check_and_write() -> None:
        # One sync (or rollover) of a school at a time; then the plan must still be the one
        # the office saw.
        School.objects.select_for_update().filter(pk=school.pk).first()
        if expected and diff_for(school, diff.format, diff.records).digest() != expected:
            raise SyncRefused(_CHANGED)
        if diff.linked:
            audit.record_many(
                school,
                actor,
                "sis.linked",
                [change.user for change in diff.linked],
                via="sis-sync",
            )
        _set_active(school, actor, back, True)
        _set_active(school, actor, diff.left, False)
        audit.record(school, actor, "sis.synced", format=diff.format, **diff.summary())

    if rows:
        imported = account_services.import_users(
            actor, school, rows, as_operator=True, before_write=check_and_write
        )
    else:
        imported = account_services.ImportResult()
        with transaction.atomic():
            check_and_write()
    return SyncResult(diff, imported, diff.left)


def _set_active(school: School, actor: User | None, users: list[User], active: bool) -> None:
    if not users:
        return
    # Also ends a rollover graduate's read-only sign-in (accounts.gate): the sync decides.
    User.objects.for_school(school).filter(pk__in=[u.pk for u in users]).update(
        is_active=active, left_school=False
    )
    action = "account.reactivated" if active else "account.deactivated"
    audit.record_many(school, actor, action, users, via="sis-sync")
    for user in users:
        account_events.user_active_changed.publish(user_id=user.pk, active=active)
