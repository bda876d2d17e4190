"""Sync with the school administration software: matched by the stable id, never by name."""

import re
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from kreide.accounts import importing
from kreide.accounts.models import User
from kreide.core.models import AuditEntry
from kreide.schools.models import Membership
from kreide.schoolyear import sis
from tests.visible import shows, visible_text

pytestmark = pytest.mark.django_db
SAMPLE = Path(__file__).parent / "schild-schueler.csv"


def _classes(user) -> list[str]:
    return sorted(
        Membership.objects.for_school(user.school_id)
        .filter(user=user, group__kind="class", group__is_active=True)
        .values_list("group__name", flat=True)
    )


def test_schild_sample_imports_then_a_reimport_shows_and_applies_the_difference(world):
    kind, records = sis.parse(SAMPLE.read_bytes())
    assert kind == sis.SCHILD and len(records) == 6
    first = sis.diff_for(world.school, kind, records)
    # Five active students are new; the one with status 9 (left) is not created.
    assert first.summary() == {
        "new": 5,
        "linked": 0,
        "changed": 0,
        "moved": 0,
        "left": 0,
        "unchanged": 0,
    }
    result = sis.apply(world.admin, world.school, first)
    assert len(result.imported.created) == 5 and len(result.imported.credentials) == 5
    jonas = User.objects.get(school=world.school, sis_id="4711")
    assert (jonas.username, jonas.first_name, _classes(jonas)) == ("jonas.mueller", "Jonas", ["5a"])
    assert sis.diff_for(world.school, kind, records).has_changes is False

    # A year later: Jonas changed class, Mia changed her name, Lea left, Tim is new; a
    # person with Lea's name but a new id is a new person, not Lea.
    text = SAMPLE.read_text(encoding="utf-8")
    text = text.replace("4711;Müller;Jonas;5a", "4711;Müller;Jonas;5b")
    text = text.replace("4712;Schmidt;Mia", "4712;Schmidt-Kaya;Mia")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("4713;"))
    text += "\n4720;Yilmaz;Tim;6a;2;\n4721;Weber;Lea;6a;2;\n"
    kind, records = sis.parse(text.encode("utf-8"))
    diff = sis.diff_for(world.school, kind, records)
    lea = User.objects.get(school=world.school, sis_id="4713")
    assert [r.sis_id for r in diff.new] == ["4720", "4721"]
    assert [(c.record.sis_id, c.changes) for c in diff.changed] == [
        ("4712", {"last_name": ["Schmidt", "Schmidt-Kaya"]})
    ]
    assert [(c.record.sis_id, c.changes["class"]) for c in diff.moved] == [("4711", ["5a", "5b"])]
    assert diff.left == [lea]
    assert diff.unchanged == 2
    sis.apply(world.admin, world.school, diff)
    jonas.refresh_from_db()
    lea.refresh_from_db()
    assert _classes(jonas) == ["5b"]
    assert User.objects.get(sis_id="4712").last_name == "Schmidt-Kaya"
    assert lea.is_active is False  # deactivated, never deleted
    new_lea = User.objects.get(school=world.school, sis_id="4721")
    assert new_lea.pk != lea.pk and new_lea.username == "lea.weber2"
    assert AuditEntry.objects.for_school(world.school).filter(action="sis.synced").count() == 2


def test_generic_format_and_the_command_line(world):
    data = (
        b"id,last_name,first_name,class,role,email\n"
        b"T-1,Berg,Anna,7a,teacher,anna.berg@schule.example\n"
        b"S-1,Kurz,Ben,7a,student,\n"
    )
    path = Path(world.school.slug + "-sync.csv")
    try:
        path.write_bytes(data)
        out = StringIO()
        call_command("sis_sync", str(path), "--school", "nord", stdout=out)
        assert "new: S-1 Ben Kurz (7a)" in out.getvalue()
        assert not User.objects.filter(sis_id="S-1").exists()
        slips = path.with_suffix(".pdf")
        call_command(
            "sis_sync",
            str(path),
            "--school",
            "nord",
            "--apply",
            "--credentials",
            str(slips),
            stdout=out,
        )
        assert "2 sign-in slips written" in out.getvalue()
        assert slips.read_bytes().startswith(b"%PDF") and slips.stat().st_mode & 0o077 == 0
    finally:
        path.unlink()
        path.with_suffix(".pdf").unlink(missing_ok=True)
    anna = User.objects.get(school=world.school, sis_id="T-1")
    assert anna.role == User.Role.TEACHER
    assert Membership.unscoped.get(user=anna, group=world.class_7a).role == "teacher"
    # Everyone else of the school without a stable id is left alone.
    assert User.objects.get(pk=world.student_7a.pk).is_active


def test_bad_files_name_line_and_column(world):
    with pytest.raises(importing.ImportFileError) as error:
        sis.parse(b"Vorname;Nachname\nA;B\n")
    assert "Interne ID-Nummer" in str(error.value.errors[0])
    with pytest.raises(importing.ImportFileError) as error:
        sis.parse(b"id;last_name;first_name;class;email\n1;A;B;5a;kaputt\n1;C;D;5a;\n")
    lines = [(e.line, e.column) for e in error.value.errors]
    assert lines == [(2, "email"), (3, "id")]
    # A broken CSV structure after a bad row: both named, the structure by its line.
    with pytest.raises(importing.ImportFileError) as error:
        sis.parse(b"id;last_name;first_name;class\n1;A;;5a\n2;" + b"x" * 200_000 + b"\n")
    found = [(e.line, e.column) for e in error.value.errors]
    assert found == [(2, "first_name"), (3, "")]
    assert "CSV" in str(error.value.errors[1].message)


def test_office_preview_then_apply(world, client_for):
    from django.urls import reverse

    client = client_for(world.admin)
    url = reverse("schoolyear:sync")
    with SAMPLE.open("rb") as upload:
        page = client.post(url, {"file": upload})
    text = page.content.decode()
    assert page.status_code == 200 and "Jonas" in text and 'name="pending"' in text
    assert not User.objects.filter(sis_id="4711").exists()
    pending = page.context["pending"]
    assert client_for(world.teacher_7a).post(url, {"pending": pending}).status_code == 403
    # Another school's admin cannot apply this admin's preview.
    theirs = client_for(world.other_admin).post(url, {"pending": pending})
    assert theirs.status_code == 200 and not User.objects.filter(sis_id="4711").exists()
    done = client.post(url, {"pending": pending, "plan": page.context["diff"].digest()})
    assert done.status_code == 302
    assert User.objects.filter(school=world.school, sis_id="4711").exists()


def _generic(*rows: str) -> tuple[str, list[sis.Record]]:
    return sis.parse(("id;last_name;first_name;class;role\n" + "\n".join(rows) + "\n").encode())


def test_first_sync_links_existing_accounts_instead_of_duplicating(world, make_user):
    """A school with accounts from before (CSV import, by hand) syncs for the first time:
    name (case, umlauts, whitespace aside), role and class find each account once."""
    jonas = make_user(
        world.school, groups=(world.class_7a,), first_name="JONAS", last_name="Mueller"
    )
    teacher = world.teacher_7a
    before = User.objects.filter(school=world.school).count()
    kind, records = _generic(
        "S-1;Müller;Jonas;7a;student",
        f"T-1;{teacher.last_name};{teacher.first_name};7a;teacher",
        "S-2;Neu;Nora;7a;student",
    )
    diff = sis.diff_for(world.school, kind, records)
    assert [(c.record.sis_id, c.user, c.changes) for c in diff.linked] == [
        ("S-1", jonas, {"first_name": ["JONAS", "Jonas"], "last_name": ["Mueller", "Müller"]}),
        ("T-1", teacher, {}),
    ]
    assert [r.sis_id for r in diff.new] == ["S-2"] and diff.possible == {}
    assert diff.summary()["linked"] == 2 and diff.left == []

    result = sis.apply(world.admin, world.school, diff)
    assert [u.sis_id for u in result.imported.created] == ["S-2"]
    assert User.objects.filter(school=world.school).count() == before + 1  # no duplicates
    jonas.refresh_from_db()
    assert (jonas.sis_id, jonas.last_name, _classes(jonas)) == ("S-1", "Müller", ["7a"])
    assert User.objects.get(pk=teacher.pk).sis_id == "T-1"
    linked = AuditEntry.objects.for_school(world.school).filter(action="sis.linked")
    assert sorted(int(e.target_id) for e in linked) == sorted([jonas.pk, teacher.pk])
    assert sis.diff_for(world.school, kind, records).has_changes is False

    # The second sync matches by id only: Jonas renamed in the export stays Jonas, even
    # though an account without an id now has exactly his new name and class.
    namesake = make_user(
        world.school, groups=(world.class_7a,), first_name="Jonas", last_name="Schmidt"
    )
    kind, records = _generic(
        "S-1;Schmidt;Jonas;7a;student",
        f"T-1;{teacher.last_name};{teacher.first_name};7a;teacher",
        "S-2;Neu;Nora;7a;student",
    )
    diff = sis.diff_for(world.school, kind, records)
    assert diff.linked == [] and diff.new == []
    assert [(c.user, c.changes) for c in diff.changed] == [
        (jonas, {"last_name": ["Müller", "Schmidt"]})
    ]
    sis.apply(world.admin, world.school, diff)
    assert User.objects.get(sis_id="S-1").pk == jonas.pk
    namesake.refresh_from_db()
    assert namesake.sis_id == "" and namesake.is_active


def test_ambiguous_or_half_matching_names_are_not_linked_but_named(world, make_user):
    twins = [
        make_user(world.school, groups=(world.class_7a,), first_name="Lea", last_name="Weber")
        for _ in range(2)
    ]
    ben = make_user(world.school, groups=(world.class_7b,), first_name="Ben", last_name="Kurz")
    felix = make_user(world.school, groups=(world.class_7a,), first_name="Felix", last_name="Ott")
    left = make_user(
        world.school, groups=(world.class_7a,), first_name="Ida", last_name="Alt", is_active=False
    )
    kind, records = _generic(
        "S-1;Weber;Lea;7a;student",  # two accounts of that name in 7a
        "S-2;Kurz;Ben;7a;student",  # Ben's account is in 7b
        "S-3;Ott;Felix Maria;7a;student",  # only the first given name matches
        "S-4;Alt;Ida;7a;student",  # deactivated accounts are not proposed
        "S-5;Berg;Tom;7a;teacher",
        "S-6;Berg;Tom;7a;teacher",  # two rows for one account: neither is linked
    )
    tom = make_user(
        world.school,
        User.Role.TEACHER,
        groups=(world.class_7a,),
        first_name="Tom",
        last_name="Berg",
    )
    diff = sis.diff_for(world.school, kind, records)
    assert diff.linked == []
    assert [r.sis_id for r in diff.new] == ["S-1", "S-2", "S-3", "S-4", "S-5", "S-6"]
    named = {sis_id: [c.user for c in found] for sis_id, found in diff.possible.items()}
    assert named == {"S-1": twins, "S-2": [ben], "S-3": [felix], "S-5": [tom], "S-6": [tom]}
    assert str(diff.possible["S-2"][0]) == f"Ben Kurz ({ben.username}, 7b)"
    sis.apply(world.admin, world.school, diff)
    for user in (*twins, ben, felix, left, tom):
        user.refresh_from_db()
        assert user.sis_id == ""
    assert (
        User.objects.filter(school=world.school, sis_id="S-1")
        .exclude(pk__in=[twins[0].pk, twins[1].pk])
        .exists()
    )


def test_links_on_the_command_line_and_in_the_office(world, make_user, client_for):
    from django.urls import reverse

    jonas = make_user(
        world.school, groups=(world.class_7a,), first_name=" Jonas ", last_name="Müller"
    )
    make_user(world.school, groups=(world.class_7b,), first_name="Ben", last_name="Kurz")
    data = b"id;last_name;first_name;class\nS-1;M\xc3\xbcller;Jonas;7a\nS-2;Kurz;Ben;7a\n"
    client = client_for(world.admin)
    page = client.post(reverse("schoolyear:sync"), {"file": SimpleUploadedFile("s.csv", data)})
    text = page.content.decode()
    assert "verknüpfen" in text and f"mit dem vorhandenen Konto {jonas.username}" in text
    assert "Nicht verknüpft, bitte prüfen" in text and "Ben Kurz" in text
    assert User.objects.get(pk=jonas.pk).sis_id == ""

    path = Path(world.school.slug + "-link.csv")
    try:
        path.write_bytes(data)
        out = StringIO()
        call_command("sis_sync", str(path), "--school", "nord", stdout=out)
        assert f"link: S-1 Jonas Müller (7a) with the existing account {jonas.username}" in (
            out.getvalue()
        )
        assert "warning: not linked, may be the existing account: Ben Kurz" in out.getvalue()
        assert User.objects.get(pk=jonas.pk).sis_id == ""
        call_command(
            "sis_sync",
            str(path),
            "--school",
            "nord",
            "--apply",
            "--credentials",
            str(path.with_suffix(".pdf")),
            stdout=out,
        )
        assert "1 created, 1 linked" in out.getvalue()
    finally:
        path.unlink()
        path.with_suffix(".pdf").unlink(missing_ok=True)
    assert User.objects.get(pk=jonas.pk).sis_id == "S-1"


def test_the_diff_costs_the_same_queries_for_many_accounts(
    world, make_user, django_assert_max_num_queries
):
    rows = []
    for number in range(40):
        make_user(world.school, groups=(world.class_7a,), first_name=f"K{number}", last_name="X")
        rows.append(f"S-{number};X;K{number};7a;student")
    kind, records = _generic(*rows)
    with django_assert_max_num_queries(5):
        diff = sis.diff_for(world.school, kind, records)
    assert len(diff.linked) == 40


def test_the_office_applies_the_links_it_showed(world, make_user, client_for):
    from django.urls import reverse

    mia = make_user(world.school, groups=(world.class_7b,), first_name="Mia", last_name="Ott")
    url = reverse("schoolyear:sync")
    client = client_for(world.admin)
    data = b"id;last_name;first_name;class\nS-9;Ott;Mia;7b\n"
    preview = client.post(url, {"file": SimpleUploadedFile("s.csv", data)})
    assert [c.user for c in preview.context["diff"].linked] == [mia]
    done = client.post(
        url,
        {"pending": preview.context["pending"], "plan": preview.context["diff"].digest()},
        follow=True,
    )
    assert "1 vorhandene Konten verknüpft" in done.content.decode()
    assert User.objects.get(pk=mia.pk).sis_id == "S-9"
    assert User.objects.filter(school=world.school, first_name="Mia").count() == 1


def _synced_count(school) -> int:
    return AuditEntry.objects.for_school(school).filter(action="sis.synced").count()


def test_the_office_applies_only_the_preview_it_saw(world, make_user, client_for):
    """An account changed between preview and apply: refused, nothing applied, the new
    preview shown; applying that one works."""
    from django.urls import reverse

    jonas = make_user(world.school, groups=(world.class_7a,), first_name="Jonas", last_name="M")
    User.objects.filter(pk=jonas.pk).update(sis_id="S-1")
    url = reverse("schoolyear:sync")
    client = client_for(world.admin)
    data = b"id;last_name;first_name;class\nS-1;M;Jonas;7b\nS-2;Neu;Lea;7a\n"
    preview = client.post(url, {"file": SimpleUploadedFile("s.csv", data)})
    seen = preview.context["diff"]
    assert [c.user for c in seen.moved] == [jonas] and not seen.changed
    assert f'name="plan" value="{seen.digest()}"' in preview.content.decode()
    # Meanwhile someone renames Jonas: the sync would now also change his name back.
    User.objects.filter(pk=jonas.pk).update(last_name="Maier")
    refused = client.post(url, {"pending": preview.context["pending"], "plan": seen.digest()})
    text = refused.content.decode()
    assert refused.status_code == 200
    assert "Seit der Vorschau haben sich Konten geändert" in text
    assert not User.objects.filter(sis_id="S-2").exists() and _classes(jonas) == ["7a"]
    assert _synced_count(world.school) == 0
    fresh = refused.context["diff"]
    assert fresh.digest() != seen.digest()
    assert fresh.changed[0].changes == {"last_name": ["Maier", "M"]}
    assert refused.context["pending"] != preview.context["pending"]
    assert f'name="plan" value="{fresh.digest()}"' in text
    # The old confirmation is gone; the new preview applies.
    again = client.post(url, {"pending": preview.context["pending"], "plan": fresh.digest()})
    assert "abgelaufen" in again.content.decode()
    done = client.post(url, {"pending": refused.context["pending"], "plan": fresh.digest()})
    assert done.status_code == 302
    assert User.objects.get(pk=jonas.pk).last_name == "M" and _classes(jonas) == ["7b"]
    assert User.objects.filter(school=world.school, sis_id="S-2").exists()
    assert _synced_count(world.school) == 1


def test_apply_without_the_previews_digest_is_refused(world, client_for):
    from django.urls import reverse

    url = reverse("schoolyear:sync")
    client = client_for(world.admin)
    with SAMPLE.open("rb") as upload:
        preview = client.post(url, {"file": upload})
    page = client.post(url, {"pending": preview.context["pending"]})
    assert "Seit der Vorschau" in page.content.decode()
    assert not User.objects.filter(sis_id="4711").exists()


def test_apply_works_the_diff_out_again_in_its_transaction(world, make_user):
    """What the command line does: print a diff, then apply it with its own digest. A change
    after the diff was worked out is caught inside the write transaction."""
    ben = make_user(world.school, groups=(world.class_7a,), first_name="Ben", last_name="K")
    User.objects.filter(pk=ben.pk).update(sis_id="S-1")
    kind, records = _generic("S-1;K;Ben;7a;student", "S-2;Neu;Lea;7a;student")
    diff = sis.diff_for(world.school, kind, records)
    User.objects.filter(pk=ben.pk).update(is_active=False)
    with pytest.raises(sis.SyncRefused):
        sis.apply(world.admin, world.school, diff, expected=diff.digest())
    assert not User.objects.filter(sis_id="S-2").exists() and _synced_count(world.school) == 0
    # Only leavers (no import rows): the same check.
    kind, records = _generic("S-1;K;Ben;7a;student")
    diff = sis.diff_for(world.school, kind, records)
    User.objects.filter(pk=ben.pk).update(first_name="Benjamin")
    with pytest.raises(sis.SyncRefused):
        sis.apply(world.admin, world.school, diff, expected=diff.digest())
    assert _synced_count(world.school) == 0
    diff = sis.diff_for(world.school, kind, records)
    sis.apply(world.admin, world.school, diff, expected=diff.digest())
    assert User.objects.get(pk=ben.pk).first_name == "Ben" and _synced_count(world.school) == 1


ASV_SAMPLE = Path(__file__).parent / "asv-export.xml"


def test_asv_sample_imports_then_a_reimport_shows_and_applies_the_difference(world):
    kind, records = sis.parse(ASV_SAMPLE.read_bytes())
    assert kind == sis.ASV
    # One row per <schuelerin>, in the class its <klasse> names (both class groups of 5a),
    # the prefix before the last name, the line each student starts on.
    assert [(r.sis_id, r.first_name, r.last_name, r.class_name, r.role) for r in records] == [
        ("a7k2m9", "Maximilian", "Huber", "5a", "student"),
        ("b3x8q1", "Charlotte", "von Arnim", "5a", "student"),
        ("c5n4t7", "Elif", "Yılmaz", "5a", "student"),
        ("d9p6r2", "Lena", "Bauer", "6b", "student"),
    ]
    assert [r.line for r in records] == [
        number
        for number, text in enumerate(ASV_SAMPLE.read_text().splitlines(), 1)
        if "<schuelerin>" in text
    ]
    first = sis.diff_for(world.school, kind, records)
    assert [r.sis_id for r in first.new] == ["a7k2m9", "b3x8q1", "c5n4t7", "d9p6r2"]
    sis.apply(world.admin, world.school, first)
    charlotte = User.objects.get(school=world.school, sis_id="b3x8q1")
    assert (charlotte.username, charlotte.get_full_name(), _classes(charlotte)) == (
        "charlotte.vonarnim",
        "Charlotte von Arnim",
        ["5a"],
    )
    assert sis.diff_for(world.school, kind, records).has_changes is False

    # The next export: Lena's class is 5b now, Maximilian's family name changed, Elif
    # left (her <schuelerin> is gone).
    text = ASV_SAMPLE.read_text(encoding="utf-8")
    text = text.replace("<klassenname>6b</klassenname>", "<klassenname>5b</klassenname>")
    text = text.replace(
        "<familienname>Huber</familienname>", "<familienname>Huber-Lang</familienname>"
    )
    text = re.sub(
        r"<schuelerin>(?:(?!</schuelerin>).)*c5n4t7.*?</schuelerin>", "", text, flags=re.S
    )
    kind, records = sis.parse(text.encode("utf-8"))
    diff = sis.diff_for(world.school, kind, records)
    elif_ = User.objects.get(school=world.school, sis_id="c5n4t7")
    assert diff.new == []
    assert [(c.record.sis_id, c.changes) for c in diff.changed] == [
        ("a7k2m9", {"last_name": ["Huber", "Huber-Lang"]})
    ]
    assert [(c.record.sis_id, c.changes["class"]) for c in diff.moved] == [("d9p6r2", ["6b", "5b"])]
    assert diff.left == [elif_]
    sis.apply(world.admin, world.school, diff)
    elif_.refresh_from_db()
    assert elif_.is_active is False  # deactivated, never deleted
    assert _classes(User.objects.get(school=world.school, sis_id="d9p6r2")) == ["5b"]


def test_asv_files_that_are_not_its_export(world):
    def problem(data: bytes) -> tuple[int, str, str]:
        with pytest.raises(importing.ImportFileError) as error:
            sis.parse(data)
        found = error.value.errors[0]
        return found.line, found.column, str(found.message)

    # The ZIP ASV writes (AES-encrypted): unpack it first.
    assert "export.xml" in problem(b"PK\x03\x04" + b"\x00" * 40)[2]
    assert "<asv_export>" in problem(b'<?xml version="1.0"?>\n<html><body/></html>')[2]
    line, _column, message = problem(b"<asv_export>\n<schulen>\n</schule>\n</asv_export>")
    assert line == 3 and "XML" in message
    # A DOCTYPE (entities: the billion laughs) is refused before any entity is expanded.
    bomb = (
        b'<?xml version="1.0"?>\n<!DOCTYPE asv_export [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n<asv_export>&b;</asv_export>'
    )
    assert "<asv_export>" in problem(bomb)[2]
    # A student without the stable id, and one id twice: named by line and element.
    data = ASV_SAMPLE.read_bytes().replace(
        b"<lokales_differenzierungsmerkmal>a7k2m9</lokales_differenzierungsmerkmal>", b""
    )
    data = data.replace(b"c5n4t7", b"b3x8q1")
    with pytest.raises(importing.ImportFileError) as error:
        sis.parse(data)
    lines = ASV_SAMPLE.read_text().splitlines()
    starts = [number for number, text in enumerate(lines, 1) if "<schuelerin>" in text]
    assert [(e.line, e.column) for e in error.value.errors] == [
        (starts[0], "lokales_differenzierungsmerkmal"),
        (starts[2], "lokales_differenzierungsmerkmal"),
    ]


def test_the_office_previews_an_asv_export(world, client_for):
    from django.urls import reverse

    client = client_for(world.admin)
    with ASV_SAMPLE.open("rb") as upload:
        page = client.post(reverse("schoolyear:sync"), {"file": upload})
    assert page.status_code == 200 and page.context["diff"].format == sis.ASV
    assert shows(page.content, "Was sich ändern würde (ASV (Bayern))")
    assert shows(page.content, "von Arnim")
    with SimpleUploadedFile("export.zip", b"PK\x03\x04" + b"\x00" * 40) as upload:
        page = client.post(reverse("schoolyear:sync"), {"file": upload})
    assert "die darin enthaltene export.xml hochladen" in visible_text(page.content)


def test_an_export_of_students_leaves_teachers_alone(world):
    """SchILD's and ASV's exports list students only: a teacher synced by Kreide's CSV is
    not "left" because a student export does not name them; a CSV with teachers decides."""
    User.objects.filter(pk=world.teacher_7a.pk).update(sis_id="T-1")
    User.objects.filter(pk=world.student_7a.pk).update(sis_id="S-1")
    student = User.objects.get(pk=world.student_7a.pk)
    for data in (ASV_SAMPLE.read_bytes(), SAMPLE.read_bytes()):
        kind, records = sis.parse(data)
        assert sis.diff_for(world.school, kind, records).left == [student]
    kind, records = _generic("T-2;Berg;Anna;7a;teacher")
    assert sis.diff_for(world.school, kind, records).left == [
        User.objects.get(pk=world.teacher_7a.pk)
    ]
