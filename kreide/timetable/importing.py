"""Reading a timetable export: Untis GPU text files or Kreide's CSV format.

Both formats become the same rows (`LessonRow`, `SubstitutionRow`) with the file and line
they came from, so every later complaint ("unknown class") names its line. Nothing here
touches the database; kreide.timetable.services resolves the names and applies the diff.

Supported Untis files (fields numbered from 1, as in the Untis manual):
- GPU001 (Stundenplan): 1 lesson number, 2 class, 3 teacher, 4 subject, 5 room,
  6 weekday (1 = Monday), 7 period.
- GPU014 (Vertretungen): 1 substitution number, 2 date (YYYYMMDD), 3 period, 6 absent
  teacher, 7 substitute, 8 subject, 10 substitute subject, 12 room, 13 substitute room,
  15 classes (~-separated), 17 text, 18 kind bits, 19 substitute classes, 20 kind letter.
- GPU004 (Lehrer): 1 abbreviation, 2 last name; GPU005 (Räume) and GPU006 (Fächer):
  1 abbreviation, 2 long name.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from django.utils.translation import gettext as _

from kreide.core.errors import Refusal
from kreide.timetable.models import Substitution

Kind = Substitution.Kind
NO_TEACHER = {"", "---", "+", "-"}


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        if not self.line:
            return f"{self.file}: {self.message}"
        return _("%(file)s, line %(line)d: %(message)s") % {
            "file": self.file,
            "line": self.line,
            "message": self.message,
        }


class TimetableImportError(Refusal):
    """The export cannot be imported; nothing was changed. `problems` names each file and
    line; the message, the first five of them."""

    code = "timetable_import_refused"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems[:5]))
        self.problems = problems


@dataclass(frozen=True)
class LessonRow:
    file: str
    line: int
    weekday: int
    period: int
    group: str
    subject: str
    teacher: str
    room: str
    number: str = ""


@dataclass(frozen=True)
class SubstitutionRow:
    file: str
    line: int
    day: date
    period: int
    group: str
    kind: str
    subject: str = ""
    teacher: str = ""
    absent_teacher: str = ""
    room: str = ""
    original_room: str = ""
    note: str = ""
    number: str = ""


@dataclass
class ParsedExport:
    lessons: list[LessonRow] | None = None  # None: the export carries no timetable
    substitutions: list[SubstitutionRow] | None = None
    teacher_names: dict[str, str] = field(default_factory=dict)  # abbreviation -> last name
    room_names: dict[str, str] = field(default_factory=dict)
    subject_names: dict[str, str] = field(default_factory=dict)
    skipped: int = 0  # lines without a class (duties, office hours) or marked "do not print"
    problems: list[Problem] = field(default_factory=list)


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) or, as Untis writes by default on Windows, ANSI."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    first = text.split("\n", 1)[0]
    delimiter = max((";", ",", "\t"), key=first.count)
    for number, record in enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1):
        if any(value.strip() for value in record):
            yield number, [value.strip() for value in record]


def _field(record: list[str], position: int) -> str:
    return record[position - 1] if len(record) >= position else ""


def _number(value: str, low: int, high: int) -> int | None:
    return int(value) if value.isdigit() and low <= int(value) <= high else None


# ---------------------------------------------------------------------------------- Untis

_UNTIS_KIND = {
    "C": Kind.CANCELLED,
    "R": Kind.ROOM_CHANGE,
    "T": Kind.MOVED,
    "F": Kind.MOVED,
    "S": Kind.SUPERVISION,
    "E": Kind.EXAM,
    "W": Kind.SUBSTITUTION,
    "P": Kind.SUBSTITUTION,
    "A": Kind.SUBSTITUTION,
    "L": Kind.CANCELLED,  # Freisetzung: the class is away, the lesson does not take place
    "~": Kind.SUBSTITUTION,
}
_BIT_CANCELLED, _BIT_ROOM, _BIT_BREAK_DUTY, _BIT_FREE, _BIT_DO_NOT_PRINT = 0, 16, 17, 18, 20


def _untis_kind(letter: str, bits: int, row: dict[str, str]) -> str | None:
    if letter == "B" or bits & (1 << _BIT_BREAK_DUTY):
        return None  # break duty: no class concerned
    if letter in _UNTIS_KIND:
        return _UNTIS_KIND[letter]
    if bits & (1 << _BIT_CANCELLED) or bits & (1 << _BIT_FREE):
        return Kind.CANCELLED
    if row["teacher"] and row["teacher"] != row["absent_teacher"]:
        return Kind.SUBSTITUTION
    if bits & (1 << _BIT_ROOM) or (row["room"] and row["room"] != row["original_room"]):
        return Kind.ROOM_CHANGE
    return Kind.OTHER


def _parse_gpu001(name: str, text: str, parsed: ParsedExport) -> None:
    lessons = parsed.lessons if parsed.lessons is not None else []
    for line, record in _records(text):
        group = _field(record, 2)
        if not group:
            parsed.skipped += 1
            continue
        weekday = _number(_field(record, 6), 1, 7)
        period = _number(_field(record, 7), 1, 24)
        if weekday is None or period is None:
            parsed.problems.append(
                Problem(name, line, _("Weekday (1–7) and period (1–24) must be numbers."))
            )
            continue
        teacher = _field(record, 3)
        lessons.append(
            LessonRow(
                name,
                line,
                weekday,
                period,
                group,
                _field(record, 4),
                "" if teacher in NO_TEACHER else teacher,
                _field(record, 5),
                _field(record, 1),
            )
        )
    parsed.lessons = lessons


def _parse_gpu014(name: str, text: str, parsed: ParsedExport) -> None:
    substitutions = parsed.substitutions if parsed.substitutions is not None else []
    for line, record in _records(text):
        try:
            day = datetime.strptime(_field(record, 2), "%Y%m%d").date()
        except ValueError:
            parsed.problems.append(Problem(name, line, _("The date must look like 20260907.")))
            continue
        period = _number(_field(record, 3), 1, 24)
        bits_text = _field(record, 18)
        if period is None or (bits_text and not bits_text.isdigit()):
            parsed.problems.append(Problem(name, line, _("Period and kind must be numbers.")))
            continue
        bits = int(bits_text or 0)
        classes = _field(record, 19) or _field(record, 15)
        teacher, absent = _field(record, 7), _field(record, 6)
        row = {
            "teacher": "" if teacher in NO_TEACHER else teacher,
            "absent_teacher": "" if absent in NO_TEACHER else absent,
            "room": _field(record, 13) or _field(record, 12),
            "original_room": _field(record, 12),
        }
        kind = _untis_kind(_field(record, 20), bits, row)
        if kind is None or not classes or bits & (1 << _BIT_DO_NOT_PRINT):
            parsed.skipped += 1
            continue
        if row["original_room"] == row["room"]:
            row["original_room"] = ""
        for group in filter(None, (value.strip() for value in classes.split("~"))):
            substitutions.append(
                SubstitutionRow(
                    name,
                    line,
                    day,
                    period,
                    group,
                    kind,
                    subject=_field(record, 10) or _field(record, 8),
                    note=_field(record, 17)[:255],
                    number=_field(record, 1),
                    **row,
                )
            )
    parsed.substitutions = substitutions


def _parse_names(target: dict[str, str]):
    def parse(name: str, text: str, parsed: ParsedExport) -> None:
        for _line, record in _records(text):
            if _field(record, 1):
                target[_field(record, 1)] = _field(record, 2)

    return parse


def parse_untis(files: dict[str, bytes]) -> ParsedExport:
    """`files`: file name -> content; the GPU number in the name says what a file holds."""
    parsed = ParsedExport()
    readers = {
        "001": _parse_gpu001,
        "014": _parse_gpu014,
        "004": _parse_names(parsed.teacher_names),
        "005": _parse_names(parsed.room_names),
        "006": _parse_names(parsed.subject_names),
    }
    for name, data in sorted(files.items()):
        match = re.search(r"GPU(\d{3})", name.upper())
        if match is None:
            parsed.problems.append(Problem(name, 0, _("Not an Untis file (GPU001.TXT …).")))
        elif match.group(1) in readers:
            readers[match.group(1)](name, decode(data), parsed)
        # Other GPU files (lesson assignments, duties) carry nothing Kreide shows.
    return parsed


# ------------------------------------------------------------------------------------ CSV

_COLUMNS = {
    "day": "day",
    "tag": "day",
    "date": "date",
    "datum": "date",
    "period": "period",
    "stunde": "period",
    "class": "class",
    "klasse": "class",
    "subject": "subject",
    "fach": "subject",
    "teacher": "teacher",
    "lehrer": "teacher",
    "room": "room",
    "raum": "room",
    "kind": "kind",
    "art": "kind",
    "note": "note",
    "text": "note",
    "absent_teacher": "absent_teacher",
    "abwesend": "absent_teacher",
    "original_room": "original_room",
    "raum_alt": "original_room",
}
_CSV_KINDS = {
    "entfall": Kind.CANCELLED,
    "vertretung": Kind.SUBSTITUTION,
    "raumänderung": Kind.ROOM_CHANGE,
    "raum": Kind.ROOM_CHANGE,
    "verlegung": Kind.MOVED,
    "betreuung": Kind.SUPERVISION,
    "klausur": Kind.EXAM,
    "sonstiges": Kind.OTHER,
    **{kind.value: kind.value for kind in Kind},
}
_WEEKDAYS = {"mo": 1, "di": 2, "mi": 3, "do": 4, "fr": 5, "sa": 6, "so": 7}
_WEEKDAYS.update({"tu": 2, "we": 3, "th": 4, "su": 7})


def _csv_weekday(value: str) -> int | None:
    value = value.strip().lower()
    if value.isdigit():
        return _number(value, 1, 7)
    return _WEEKDAYS.get(value[:2])


def _csv_periods(value: str) -> list[int] | None:
    """'3' or a double period '3-4'."""
    first, _dash, last = value.partition("-")
    low, high = _number(first.strip(), 1, 24), _number((last or first).strip(), 1, 24)
    if low is None or high is None or high < low:
        return None
    return list(range(low, high + 1))


def _csv_date(value: str) -> date | None:
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, pattern).date()
        except ValueError:
            continue
    return None


def parse_csv(files: dict[str, bytes]) -> ParsedExport:
    """Kreide's CSV format (docs/timetable.md): the header names the columns and says
    whether a file is the week's lessons (`day`) or the substitutions (`date`)."""
    parsed = ParsedExport()
    for name, data in sorted(files.items()):
        records = list(_records(decode(data)))
        if not records:
            continue
        header = [_COLUMNS.get(column.lower()) for column in records[0][1]]
        if "day" in header:
            required, target = ("day", "period", "class"), "lessons"
        elif "date" in header:
            required, target = ("date", "period", "class", "kind"), "substitutions"
        else:
            parsed.problems.append(
                Problem(name, 1, _("The first line must name the columns (day or date, …)."))
            )
            continue
        missing = [column for column in required if column not in header]
        if missing:
            parsed.problems.append(
                Problem(
                    name, 1, _("Missing columns: %(columns)s") % {"columns": ", ".join(missing)}
                )
            )
            continue
        rows = parsed.lessons if target == "lessons" else parsed.substitutions
        rows = rows if rows is not None else []
        for line, record in records[1:]:
            values = {
                column: value for column, value in zip(header, record, strict=False) if column
            }
            values = {column: values.get(column, "") for column in _COLUMNS.values()}
            periods = _csv_periods(values["period"])
            if periods is None:
                parsed.problems.append(Problem(name, line, _("Period must be a number or 3-4.")))
                continue
            if not values["class"]:
                parsed.problems.append(Problem(name, line, _("The class is missing.")))
                continue
            if target == "lessons":
                weekday = _csv_weekday(values["day"])
                if weekday is None:
                    parsed.problems.append(Problem(name, line, _("Unknown weekday.")))
                    continue
                rows.extend(
                    LessonRow(
                        name,
                        line,
                        weekday,
                        period,
                        values["class"],
                        values["subject"],
                        values["teacher"],
                        values["room"],
                    )
                    for period in periods
                )
                continue
            day = _csv_date(values["date"])
            kind = _CSV_KINDS.get(values["kind"].lower())
            if day is None or kind is None:
                parsed.problems.append(
                    Problem(name, line, _("Date (2026-09-07) or kind (Entfall, …) not understood."))
                )
                continue
            rows.extend(
                SubstitutionRow(
                    name,
                    line,
                    day,
                    period,
                    values["class"],
                    kind,
                    subject=values["subject"],
                    teacher=values["teacher"],
                    absent_teacher=values["absent_teacher"],
                    room=values["room"],
                    original_room=values["original_room"],
                    note=values["note"][:255],
                )
                for period in periods
            )
        if target == "lessons":
            parsed.lessons = rows
        else:
            parsed.substitutions = rows
    return parsed


UPLOAD_LIMIT = 5 * 1024 * 1024  # a whole school's Untis export is well under 1 MB


def upload_problem(uploads: list) -> str | None:
    """Why uploaded files (with `.name` and `.size`) cannot be an export, or None."""
    if not uploads:
        return _("Choose the exported files.")
    if sum(upload.size for upload in uploads) > UPLOAD_LIMIT:
        return _("The files are larger than 5 MB together.")
    if any(not upload.name.lower().endswith((".txt", ".csv")) for upload in uploads):
        return _("Only .TXT (Untis) and .CSV files can be imported.")
    return None


def parse(files: dict[str, bytes], format: str) -> ParsedExport:
    if format == "untis":
        return parse_untis(files)
    if format == "csv":
        return parse_csv(files)
    raise ValueError(f"unknown timetable format {format!r}")
