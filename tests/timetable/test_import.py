from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from kreide.schools.models import Subject
from kreide.timetable import importing, services
from kreide.timetable.models import Lesson, Room, Substitution, TeacherCode
from tests.timetable.conftest import run_import, school_days, untis_files

pytestmark = pytest.mark.django_db


def test_untis_export_becomes_the_week_and_the_days_changes(tt):
    school = tt.school
    lessons = Lesson.objects.for_school(school)
    assert lessons.count() == 17  # the line without a class (an office hour) is skipped
    # The double period is two lessons; MÜL is Müller through GPU004's last name.
    monday_maths = lessons.filter(group=tt.class_7a, weekday=1, subject__short_name="Ma")
    assert sorted(monday_maths.values_list("period", flat=True)) == [1, 2]
    assert {lesson.teacher for lesson in monday_maths} == {tt.mueller}
    assert TeacherCode.objects.for_school(school).get(code="MÜL").user == tt.mueller
    assert Subject.objects.for_school(school).get(short_name="Sp").name == "Sport"
    assert Room.objects.for_school(school).get(code="TH1").name == "Turnhalle Süd"

    day, following = school_days(tt.school)
    changes = Substitution.objects.for_school(school)
    cancelled = changes.get(kind=Substitution.Kind.CANCELLED)
    assert (cancelled.day, cancelled.period, cancelled.group) == (day, 1, tt.class_7a)
    assert cancelled.absent_teacher == tt.mueller
    assert cancelled.note == "Aufgaben im Kreide-Ordner"
    covered = changes.get(kind=Substitution.Kind.SUBSTITUTION)
    assert (covered.teacher, covered.absent_teacher) == (tt.mueller, tt.schaefer)
    moved = changes.get(kind=Substitution.Kind.ROOM_CHANGE)
    assert (moved.group, moved.room.code, moved.original_room.code) == (tt.class_7b, "AULA", "TH1")
    # One exam line for two classes; break duty and "do not print" lines are left out.
    exams = changes.filter(kind=Substitution.Kind.EXAM, day=following)
    assert sorted(exams.values_list("group__name", flat=True)) == ["7a", "7b"]
    assert changes.count() == 5
    assert tt.report.skipped == 3


def test_the_same_export_again_changes_nothing(tt):
    before = sorted(Lesson.objects.for_school(tt.school).values_list("pk", flat=True))
    report = run_import(tt.school)
    assert not report.changed
    assert sorted(Lesson.objects.for_school(tt.school).values_list("pk", flat=True)) == before
    assert Substitution.objects.for_school(tt.school).count() == 5


def test_ansi_export_reads_the_same(tt):
    report = run_import(tt.school, untis_files(tt.school, encoding="cp1252"))
    assert not report.changed


def test_a_new_export_shows_what_changed_and_whom_it_affects(tt):
    files = untis_files(tt.school, **{'"Sp";"TH1";1;2;': '"Sp";"AULA";1;2;'})
    report = run_import(tt.school, files, apply=False)
    assert [str(change) for change in report.lessons_added] == ["Mo 2. 7b Sp Schäfer AULA"]
    assert [str(change) for change in report.lessons_removed] == ["Mo 2. 7b Sp Schäfer TH1"]
    assert report.classes_affected == ["7b"]
    assert report.teachers_affected == ["Schäfer"]
    assert report.students_affected == 1
    assert not report.applied
    # The dry run changed nothing; applying does, once.
    assert not Lesson.objects.for_school(tt.school).filter(room__code="AULA").exists()
    assert run_import(tt.school, files).changed
    assert Lesson.objects.for_school(tt.school).filter(room__code="AULA").count() == 1
    assert not run_import(tt.school, files).changed


def test_a_substitution_dropped_from_the_export_disappears(tt):
    files = untis_files(tt.school)
    files["GPU014.TXT"] = b"\n".join(
        line for line in files["GPU014.TXT"].splitlines() if not line.startswith(b"101;")
    )
    report = run_import(tt.school, {"GPU014.TXT": files["GPU014.TXT"]})
    assert [change.group for change in report.substitutions_removed] == ["7a"]
    assert not report.lessons_removed  # a substitution file alone leaves the week alone
    assert (
        not Substitution.objects.for_school(tt.school)
        .filter(kind=Substitution.Kind.CANCELLED)
        .exists()
    )
    assert Lesson.objects.for_school(tt.school).count() == 17


def test_unknown_classes_and_teachers_are_reported_by_line_and_nothing_is_applied(tt):
    files = untis_files(tt.school, **{'"7b";"MÜL";"Ma";"R102";5;1;': '"9z";"XYZ";"Ma";"R102";5;1;'})
    files["GPU014.TXT"] += (
        b'\n107;20260907;1;;;"";"QQQ";"Ma";"";"";"";"";"";"";"7a";"";"";0;"";"";0\n'
    )
    with pytest.raises(importing.TimetableImportError) as raised:
        run_import(tt.school, files)
    messages = [str(problem) for problem in raised.value.problems]
    assert "GPU001.TXT, Zeile 17: Unbekannte Klasse „9z“." in messages
    assert any(m.startswith("GPU001.TXT, Zeile 17: Unbekannte Lehrkraft „XYZ“") for m in messages)
    assert any(m.startswith("GPU014.TXT, Zeile 8: Unbekannte Lehrkraft „QQQ“") for m in messages)
    assert Lesson.objects.for_school(tt.school).filter(weekday=5, group=tt.class_7b).exists()


def test_another_schools_classes_are_unknown(tt):
    # The other school also has a 7a; its classes and teachers are never matched.
    with pytest.raises(importing.TimetableImportError):
        run_import(tt.other_school)
    assert not Lesson.objects.for_school(tt.other_school).exists()


def test_kreide_csv_format(world, make_user):
    make_user(world.school, "teacher", username="kraus", last_name="Kraus")
    lessons = "Tag;Stunde;Klasse;Fach;Lehrer;Raum\nMo;3-4;7a;Ma;kraus;R7\nDi;1;7b;De;;R8\n"
    day, _following = school_days(world.school)
    changes = (
        "date;period;class;kind;subject;teacher;room;note\n"
        f"{day:%d.%m.%Y};3;7a;Raumänderung;Ma;kraus;R9;Physikraum\n"
        f"{day:%Y-%m-%d};1;7b;Entfall;De;;;\n"
    )
    parsed = importing.parse_csv(
        {"stundenplan.csv": lessons.encode(), "vertretungen.csv": changes.encode("cp1252")}
    )
    report = services.import_timetable(world.school, parsed)
    assert len(report.lessons_added) == 3
    assert report.new_rooms == ["R7", "R8", "R9"]
    kinds = dict(Substitution.objects.for_school(world.school).values_list("group__name", "kind"))
    assert kinds == {"7a": "room", "7b": "cancelled"}
    assert not services.import_timetable(world.school, parsed).changed


def test_csv_errors_name_the_line(world):
    parsed = importing.parse_csv({"plan.csv": b"day;period;class\nXx;1;7a\nMo;eins;7a\n"})
    assert [str(problem) for problem in parsed.problems] == [
        "plan.csv, Zeile 2: Unbekannter Wochentag.",
        "plan.csv, Zeile 3: Die Stunde muss eine Zahl sein oder 3-4.",
    ]
    with pytest.raises(importing.TimetableImportError):
        services.import_timetable(world.school, parsed)


def test_command_imports_a_folder_and_dry_run_changes_nothing(tt, tmp_path):
    for name, data in untis_files(tt.school, **{'"R102";2;1;': '"R103";2;1;'}).items():
        (tmp_path / name).write_bytes(data)
    out = StringIO()
    call_command("import_timetable", str(tmp_path), school="nord", dry_run=True, stdout=out)
    assert "+ lesson: Di 1. 7b Ma Müller R103" in out.getvalue()
    assert "Dry run" in out.getvalue()
    assert not Lesson.objects.for_school(tt.school).filter(room__code="R103").exists()
    call_command("import_timetable", str(tmp_path), school="nord", stdout=StringIO())
    assert Lesson.objects.for_school(tt.school).filter(room__code="R103").exists()


def test_command_lists_problems_and_fails(tt, tmp_path):
    (tmp_path / "GPU001.TXT").write_text('1;"5x";"MÜL";"Ma";"R1";1;1\n', "utf-8")
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_timetable", str(tmp_path), school="nord", stderr=err)
    assert "GPU001.TXT, Zeile 1" in err.getvalue()
