"""Reading and checking a user-import CSV file before anything is written.

Columns: username, first_name, last_name, role, classes (";"-separated), optional password
and email; a student's line may name up to two parents (`parent1_username`,
`parent1_first_name`, `parent1_last_name`, `parent1_email`, the same with `parent2_`), who
become parent accounts of the school linked to the student (kreide.parents). UTF-8 with or
without BOM, or Windows-1252 (what German Excel saves as plain "CSV"); ";", "," or tab as
delimiter; `read_format` says which it found. The whole file is checked first; any error
names its line and column and nothing of the file is imported.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.contrib.auth import password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models.functions import Lower
from django.utils.translation import gettext as _

from kreide.accounts.models import ExternalIdentity, UpstreamProvider, User
from kreide.core.errors import Refusal

REQUIRED_COLUMNS = ("username", "first_name", "last_name", "role", "classes")
PARENT_SLOTS = ("parent1_", "parent2_")
PARENT_FIELDS = ("username", "first_name", "last_name", "email")
PARENT_COLUMNS = tuple(slot + name for slot in PARENT_SLOTS for name in PARENT_FIELDS)
OPTIONAL_COLUMNS = ("password", "email", "external_id", *PARENT_COLUMNS)
MAX_ROWS = 5000
MAX_ERRORS = 50

# What school offices write in the role column (compared in lower case).
ROLE_NAMES = {
    "student": User.Role.STUDENT,
    "schüler": User.Role.STUDENT,
    "schülerin": User.Role.STUDENT,
    "schueler": User.Role.STUDENT,
    "teacher": User.Role.TEACHER,
    "lehrer": User.Role.TEACHER,
    "lehrerin": User.Role.TEACHER,
    "lehrkraft": User.Role.TEACHER,
    "school_admin": User.Role.SCHOOL_ADMIN,
    "admin": User.Role.SCHOOL_ADMIN,
    "schuladmin": User.Role.SCHOOL_ADMIN,
    "parent": User.Role.PARENT,
    "elternteil": User.Role.PARENT,
    "eltern": User.Role.PARENT,
}


@dataclass
class ImportRow:
    line: int
    username: str
    first_name: str
    last_name: str
    role: str
    classes: list[str]
    password: str = ""
    email: str = ""
    # Set by the sync with the school administration software (kreide.schoolyear.sis), never
    # read from the account CSV: the stable id stored on the account.
    sis_id: str = ""
    # The account's ID at the school's one sign-in provider (kreide.accounts.upstream).
    external_id: str = ""
    # A student's parents named on their line, linked to the student after the import.
    parent_rows: list[ImportRow] = field(default_factory=list, compare=False, repr=False)
    # A parent account named in a student's line: its columns' prefix ("parent1_"), for
    # the messages, and the class its slip is sorted under.
    column_prefix: str = ""
    slip_class: str = ""

    def column(self, name: str) -> str:
        return self.column_prefix + name


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return _("Line %(line)d, column “%(column)s”: %(message)s") % {
                "line": self.line,
                "column": self.column,
                "message": self.message,
            }
        return _("Line %(line)d: %(message)s") % {"line": self.line, "message": self.message}


class ImportFileError(Refusal):
    """The file cannot be imported as it is (nothing was written); `errors` names each line
    and column, the message the first five of them."""

    code = "import_file_refused"

    def __init__(self, errors: list[RowError] | None = None) -> None:
        self.errors = list(errors or [])
        super().__init__("; ".join(str(error) for error in self.errors[:5]))


@dataclass(frozen=True)
class FileFormat:
    encoding: str  # "utf-8", "utf-8-sig" (with BOM) or "cp1252"
    delimiter: str

    def describe(self) -> str:
        encoding = {
            "utf-8": _("UTF-8"),
            "utf-8-sig": _("UTF-8 with BOM"),
            "cp1252": _("Windows-1252 (Excel's “CSV (delimited)”)"),
        }[self.encoding]
        delimiter = {";": _("semicolons"), ",": _("commas"), "\t": _("tabs")}[self.delimiter]
        return _("Read as %(encoding)s, columns separated by %(delimiter)s.") % {
            "encoding": encoding,
            "delimiter": delimiter,
        }


def decode(data: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (with or without BOM), else Windows-1252."""
    # Pure ASCII is valid in both; a byte that is not UTF-8 means Excel's Windows-1252.
    bom = data.startswith(b"\xef\xbb\xbf")
    encodings = ("utf-8-sig",) if bom else ("utf-8", "cp1252")
    for encoding in encodings:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as error:
            failed = error
    line = data[: failed.start].count(b"\n") + 1
    raise ImportFileError(
        [
            RowError(
                line,
                "",
                _(
                    "The file is neither UTF-8 nor Windows-1252 encoded. Save it as "
                    "“CSV UTF-8” and try again."
                ),
            )
        ]
    ) from None


def read_format(data: bytes) -> FileFormat:
    """How the file is encoded and delimited (ImportFileError when it cannot be read)."""
    text, encoding = decode(data)
    header_line = text.splitlines()[0] if text.strip() else ""
    return FileFormat(encoding, _delimiter(header_line))


def _delimiter(header_line: str) -> str:
    """The delimiter that splits the header into the known column names."""
    best, found = ",", -1
    for delimiter in (";", ",", "\t"):
        names = {name.strip().lower() for name in header_line.split(delimiter)}
        count = len(names & set(REQUIRED_COLUMNS + OPTIONAL_COLUMNS))
        if count > found:
            best, found = delimiter, count
    return best


def parse(data: bytes, school) -> list[ImportRow]:
    """Rows of a valid file, or ImportFileError with every problem (up to MAX_ERRORS)."""
    text, _encoding = decode(data)
    if not text.strip():
        raise ImportFileError([RowError(1, "", _("The file is empty."))])
    header_line = text.splitlines()[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(header_line))
    header = [name.strip().lower() for name in next(reader)]
    errors: list[RowError] = []
    for name in REQUIRED_COLUMNS:
        if name not in header:
            errors.append(RowError(1, name, _("This column is missing.")))
    for name in header:
        if name not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            errors.append(
                RowError(
                    1,
                    name,
                    _("Unknown column. Allowed are: %(columns)s.")
                    % {"columns": ", ".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)},
                )
            )
    if len(set(header)) != len(header):
        errors.append(RowError(1, "", _("A column appears twice.")))
    if errors:
        raise ImportFileError(errors)

    rows: list[ImportRow] = []
    seen_usernames: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if not any(value.strip() for value in record):
                continue
            if len(rows) >= MAX_ROWS:
                errors.append(
                    RowError(line, "", _("At most %(count)d rows per file.") % {"count": MAX_ROWS})
                )
                break
            if len(record) != len(header):
                errors.append(
                    RowError(
                        line,
                        "",
                        _("Expected %(expected)d fields, found %(found)d.")
                        % {"expected": len(header), "found": len(record)},
                    )
                )
                continue
            values = {name: value.strip() for name, value in zip(header, record, strict=True)}
            row, row_errors = _check_row(line, values, seen_usernames, seen_emails)
            errors.extend(row_errors)
            if row is not None:
                rows.append(row)
            if len(errors) >= MAX_ERRORS:
                break
    except csv.Error as error:
        errors.append(
            RowError(
                reader.line_num, "", _("The CSV structure is broken: %(error)s") % {"error": error}
            )
        )
    rows, parent_errors = _add_parents(rows)
    errors.extend(parent_errors)
    errors.extend(check_against_database(rows, school))
    if errors:
        raise ImportFileError(errors[:MAX_ERRORS])
    if not rows:
        raise ImportFileError([RowError(2, "", _("The file contains no accounts."))])
    return rows


def _username_problem(username: str, missing: str) -> str | None:
    """What is wrong with a username of the file (`missing` when it is empty), or None."""
    if not username:
        return missing
    if len(username) > 150:
        return _("At most 150 characters.")
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        return _("Only letters, digits and . - _ @ + are allowed.")
    return None


def _check_row(
    line: int, values: dict[str, str], seen_usernames: dict[str, int], seen_emails: dict[str, int]
) -> tuple[ImportRow | None, list[RowError]]:
    errors = []

    def fail(column: str, message: str) -> None:
        errors.append(RowError(line, column, message))

    username = values["username"]
    problem = _username_problem(username, _("The username is missing."))
    if problem:
        fail("username", problem)
    if username and len(username) <= 150:
        key = username.lower()
        if key in seen_usernames:
            fail("username", _("Already used in line %(line)d.") % {"line": seen_usernames[key]})
        seen_usernames.setdefault(key, line)
    for column in ("first_name", "last_name"):
        if not values[column]:
            fail(column, _("This value is missing."))
        elif len(values[column]) > 150:
            fail(column, _("At most 150 characters."))
    role = ROLE_NAMES.get(values["role"].lower())
    if role is None:
        fail(
            "role",
            _("Unknown role “%(role)s”. Use student, teacher, school_admin or parent.")
            % {"role": values["role"]},
        )
    classes = [name.strip() for name in values["classes"].split(";") if name.strip()]
    if role == User.Role.PARENT and classes:
        fail(
            "classes",
            _("A parent is in no class: link parents to their children under Parents."),
        )
    for name in classes:
        if len(name) > 100:
            fail("classes", _("The class name “%(name)s…” is too long.") % {"name": name[:20]})
    password = values.get("password", "")
    if password:
        try:
            password_validation.validate_password(password)
        except ValidationError as error:
            fail("password", " ".join(error.messages))
    email = values.get("email", "")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            fail("email", _("This is not a valid e-mail address."))
        key = email.lower()
        if key in seen_emails:
            fail("email", _("Already used in line %(line)d.") % {"line": seen_emails[key]})
        seen_emails.setdefault(key, line)
    external_id = values.get("external_id", "")
    if len(external_id) > 255:
        fail("external_id", _("At most 255 characters."))
    parents = _parents_in_line(line, values, role, classes, errors)
    if errors:
        return None, errors
    return ImportRow(
        line,
        username,
        values["first_name"],
        values["last_name"],
        role,
        classes,
        password,
        email,
        external_id=external_id,
        parent_rows=parents,  # rows of their own after `_add_parents`
    ), []


def _parents_in_line(
    line: int, values: dict[str, str], role: str | None, classes: list[str], errors: list
) -> list[ImportRow]:
    """The parents a student's line names (parent1_…, parent2_…), as rows of role parent."""
    found: list[ImportRow] = []
    for slot in PARENT_SLOTS:
        given = {name: values.get(slot + name, "") for name in PARENT_FIELDS}
        if not any(given.values()):
            continue

        def fail(name: str, message: str, slot: str = slot) -> None:
            errors.append(RowError(line, slot + name, message))

        if role != User.Role.STUDENT:
            fail("username", _("Only a student's line can name parents."))
            continue
        username = given["username"]
        problem = _username_problem(username, _("The parent's username is missing."))
        if problem:
            fail("username", problem)
        for name in ("first_name", "last_name"):
            if not given[name]:
                fail(name, _("This value is missing."))
            elif len(given[name]) > 150:
                fail(name, _("At most 150 characters."))
        if given["email"]:
            try:
                validate_email(given["email"])
            except ValidationError:
                fail("email", _("This is not a valid e-mail address."))
        if any(parent.username.lower() == username.lower() for parent in found):
            fail("username", _("The same parent is named twice in this line."))
            continue
        found.append(
            ImportRow(
                line,
                username,
                given["first_name"],
                given["last_name"],
                User.Role.PARENT,
                [],
                email=given["email"],
                column_prefix=slot,
                slip_class=classes[0] if classes else "",
            )
        )
    return found


def _add_parents(rows: list[ImportRow]) -> tuple[list[ImportRow], list[RowError]]:
    """The file's rows and, after them, a row for each parent its students' lines name
    (once, however many children): a parent may also have a line of their own, then that
    line is the account. A name used for a parent must be a parent's everywhere."""
    errors: list[RowError] = []
    accounts = {row.username.lower(): row for row in rows}
    emails = {row.email.lower(): row for row in rows if row.email}
    added: dict[str, ImportRow] = {}
    for row in rows:
        for parent in row.parent_rows:
            key = parent.username.lower()
            own = accounts.get(key)
            if own is not None:
                if own.role != User.Role.PARENT:
                    errors.append(
                        RowError(
                            parent.line,
                            parent.column("username"),
                            _("This is the username of line %(line)d, which is not a parent.")
                            % {"line": own.line},
                        )
                    )
                continue
            first = added.get(key)
            if first is None:
                owner = emails.get(parent.email.lower()) if parent.email else None
                if owner is not None and owner.username.lower() != key:
                    errors.append(
                        RowError(
                            parent.line,
                            parent.column("email"),
                            _("Already used in line %(line)d.") % {"line": owner.line},
                        )
                    )
                    continue
                added[key] = parent
                if parent.email:
                    emails[parent.email.lower()] = parent
            elif (first.first_name, first.last_name, first.email.lower()) != (
                parent.first_name,
                parent.last_name,
                parent.email.lower(),
            ):
                errors.append(
                    RowError(
                        parent.line,
                        parent.column("username"),
                        _("This parent is named differently in line %(line)d.")
                        % {"line": first.line},
                    )
                )
    return rows + list(added.values()), errors


def check_against_database(rows: list[ImportRow], school) -> list[RowError]:
    """Usernames and e-mail addresses are unique across the deployment."""
    errors = []
    usernames = {row.username.lower(): row for row in rows}
    emails = {row.email.lower(): row for row in rows if row.email}
    for username, school_id, role in (
        User.objects.annotate(key=Lower("username"))
        .filter(key__in=list(usernames))
        .values_list("username", "school_id", "role")
    ):
        row = usernames[username.lower()]
        if school_id != school.pk:
            errors.append(
                RowError(
                    row.line,
                    row.column("username"),
                    # The school office's form says the same: nothing tells which school,
                    # or whether any, holds it.
                    _("This username is already taken."),
                )
            )
        elif row.column_prefix and role != User.Role.PARENT:
            # A parent named in a student's line links an existing account only if it
            # is a parent's: the import must not turn a student or teacher into one.
            errors.append(
                RowError(
                    row.line,
                    row.column("username"),
                    _("This username belongs to an account here that is not a parent."),
                )
            )
    for username, email in (
        User.objects.annotate(key=Lower("email"))
        .filter(key__in=list(emails))
        .values_list("username", "email")
    ):
        row = emails[email.lower()]
        if row.username.lower() != username.lower():
            errors.append(
                RowError(
                    row.line,
                    row.column("email"),
                    _("This e-mail address belongs to another account."),
                )
            )
    return errors + _check_external_ids(rows, school)


def _check_external_ids(rows: list[ImportRow], school) -> list[RowError]:
    """External IDs name accounts at the school's only sign-in provider, once each."""
    linked = [row for row in rows if row.external_id]
    if not linked:
        return []
    providers = list(UpstreamProvider.objects.for_school(school)[:2])
    if len(providers) != 1:
        return [
            RowError(
                linked[0].line,
                "external_id",
                _("External IDs need exactly one sign-in provider (the school has %(count)d).")
                % {"count": len(providers)},
            )
        ]
    errors, seen = [], {}
    for row in linked:
        if row.external_id in seen:
            errors.append(
                RowError(
                    row.line,
                    "external_id",
                    _("Already used in line %(line)d.") % {"line": seen[row.external_id]},
                )
            )
        seen.setdefault(row.external_id, row.line)
    for value, username in (
        ExternalIdentity.objects.for_school(school)
        .filter(provider=providers[0], value__in=list(seen))
        .values_list("value", "user__username")
    ):
        row = next(r for r in linked if r.external_id == value)
        if row.username.lower() != username.lower():
            errors.append(
                RowError(
                    row.line,
                    "external_id",
                    _("This external ID belongs to another account."),
                )
            )
    return errors
