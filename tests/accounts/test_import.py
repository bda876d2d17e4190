from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from kreide.accounts import importing, services
from kreide.accounts.models import User
from kreide.core.models import AuditEntry
from kreide.schools.models import Group, Membership

CSV = (
    "username;first_name;last_name;role;classes;email\n"
    "anna.becker;Anna;Becker;student;7a;\n"
    'bert.yilmaz;Bert;Yılmaz;Schüler;"7a;Robotik-AG";bert@nord.example\n'
    "clara.neu;Clara;Neu;student;8c;\n"
    "xaver.lehr;Xaver;Lehr;teacher;7a;\n"
)


def _import(world, text: str, *, encoding: str = "utf-8"):
    rows = importing.parse(text.encode(encoding), world.school)
    return services.import_users(world.admin, world.school, rows)


def _memberships(user: User) -> set[tuple[str, str]]:
    return {
        (m.group.name, m.role)
        for m in Membership.objects.for_school(user.school)
        .filter(user=user)
        .select_related("group")
    }


def test_valid_file_creates_accounts_classes_and_passwords(world):
    result = _import(world, CSV)
    assert len(result.created) == 4 and not result.updated
    assert {g.name for g in result.groups_created} == {"Robotik-AG", "8c"}
    assert Group.objects.for_school(world.school).get(name="8c").grade == 8
    bert = User.objects.get(username="bert.yilmaz")
    assert bert.school == world.school and bert.role == User.Role.STUDENT
    assert bert.email == "bert@nord.example" and bert.must_change_password
    assert _memberships(bert) == {("7a", "member"), ("Robotik-AG", "member")}
    assert _memberships(User.objects.get(username="xaver.lehr")) == {("7a", "teacher")}
    slips = {c.username: c for c in result.credentials}
    assert set(slips) == {"anna.becker", "bert.yilmaz", "clara.neu", "xaver.lehr"}
    assert slips["bert.yilmaz"].group == "7a"
    # The generated password works and is stored only as an argon2 hash.
    assert bert.check_password(slips["bert.yilmaz"].password)
    assert bert.password.startswith("argon2$argon2id$")
    entries = AuditEntry.objects.for_school(world.school).filter(action="account.imported")
    assert entries.count() == 4


def test_bad_row_names_line_and_column_and_imports_nothing(world):
    bad = CSV + "dora.x;Dora;X;Hausmeister;7a;\n" + "anna.becker;Anna;Doppelt;student;7a;\n"
    with pytest.raises(importing.ImportFileError) as caught:
        importing.parse(bad.encode(), world.school)
    messages = [str(error) for error in caught.value.errors]
    assert "Zeile 6, Spalte „role“: Unbekannte Rolle „Hausmeister“." in messages[0]
    assert "school_admin oder parent" in messages[0]
    assert messages[1] == "Zeile 7, Spalte „username“: Bereits in Zeile 2 verwendet."
    assert not User.objects.filter(username="anna.becker").exists()
    assert not Group.objects.for_school(world.school).filter(name="8c").exists()


def test_parents_are_imported_without_classes(world):
    text = "username;first_name;last_name;role;classes\nmutter.b;Maria;Becker;Elternteil;\n"
    result = _import(world, text)
    parent = User.objects.get(username="mutter.b")
    assert parent in result.created and parent.role == User.Role.PARENT
    assert _memberships(parent) == set()
    with pytest.raises(importing.ImportFileError) as caught:
        importing.parse(
            b"username;first_name;last_name;role;classes\nv.b;V;B;parent;7a\n", world.school
        )
    assert "Spalte „classes“: Eltern sind in keiner Klasse" in str(caught.value.errors[0])


def test_a_taken_username_does_not_tell_where_it_is_taken(world, make_user, client_for):
    """The school office learns that a name is taken (usernames are unique in the whole
    deployment), never that it belongs to another school, nor to whom."""
    operator = make_user(None, username="betrieb")  # an account of no school
    admin = client_for(world.admin)

    def problems(username: str) -> list[str]:
        text = f"username,first_name,last_name,role,classes\n{username},A,B,student,7a\n"
        upload = SimpleUploadedFile("liste.csv", text.encode(), content_type="text/csv")
        answer = admin.post("/accounts/admin/import/", {"file": upload})
        assert answer.status_code == 200
        return [str(problem) for problem in answer.context["problems"]]

    of_another_school = problems(world.other_student.username)
    assert of_another_school == problems(operator.username)
    assert of_another_school == [
        "Zeile 2, Spalte „username“: Dieser Benutzername ist bereits vergeben."
    ]
    form = admin.post(
        "/accounts/admin/users/new/",
        {
            "first_name": "A",
            "last_name": "B",
            "username": world.other_student.username,
            "role": "student",
        },
    )
    assert "Dieser Benutzername ist bereits vergeben." in form.content.decode()
    assert not User.objects.filter(school=world.school, last_name="B").exists()


def test_missing_column_and_wrong_encoding(world):
    with pytest.raises(importing.ImportFileError) as caught:
        importing.parse(b"username;first_name;last_name;classes\nx;A;B;7a\n", world.school)
    assert str(caught.value.errors[0]) == "Zeile 1, Spalte „role“: Diese Spalte fehlt."
    with pytest.raises(importing.ImportFileError) as caught:
        # 0x81 is neither UTF-8 here nor any Windows-1252 character.
        importing.parse(
            b"username;first_name;last_name;role;classes\nx;J\x81rg;B;student;7a\n",
            world.school,
        )
    assert caught.value.errors[0].line == 2 and "UTF-8" in str(caught.value.errors[0])


def test_reimport_updates_without_duplicates(world):
    first = _import(world, CSV)
    anna = User.objects.get(username="anna.becker")
    hash_before = anna.password
    changed = CSV.replace("Becker;student;7a;", "Berger;student;7b;")
    second = _import(world, changed)
    assert not second.created and [u.username for u in second.updated] == ["anna.becker"]
    assert second.unchanged == 3 and not second.credentials
    assert User.objects.filter(username__in=[c.username for c in first.credentials]).count() == 4
    anna.refresh_from_db()
    assert anna.last_name == "Berger" and anna.password == hash_before
    assert _memberships(anna) == {("7b", "member")}
    assert Membership.objects.for_school(world.school).filter(user=anna).count() == 1


def test_comma_delimiter_and_bom_and_given_password(world):
    text = (
        "\ufeffusername,first_name,last_name,role,classes,password\n"
        'eva.k,Eva,Klein,student,"7a;7b",Sonnenblume-42\n'
    )
    result = _import(world, text)
    eva = User.objects.get(username="eva.k")
    assert eva.check_password("Sonnenblume-42") and not eva.must_change_password
    assert not result.credentials
    assert _memberships(eva) == {("7a", "member"), ("7b", "member")}


def test_only_school_admins_import(world):
    rows = importing.parse(CSV.encode(), world.school)
    from django.core.exceptions import PermissionDenied

    for actor in (world.teacher_7a, world.other_admin):
        with pytest.raises(PermissionDenied):
            services.import_users(actor, world.school, rows)


def test_command_writes_credentials_pdf(world, tmp_path, capsys):
    source = tmp_path / "schueler.csv"
    source.write_text(CSV, encoding="utf-8-sig")
    target = tmp_path / "slips.pdf"
    call_command("import_users", str(source), school="nord", credentials=str(target))
    assert "4 created" in capsys.readouterr().out
    assert target.read_bytes().startswith(b"%PDF")
    assert User.objects.for_school(world.school).filter(username="clara.neu").exists()


def test_the_sample_file_imports(world):
    from django.contrib.staticfiles import finders

    sample = Path(finders.find("accounts/import-template.csv")).read_bytes()
    result = services.import_users(world.admin, world.school, importing.parse(sample, world.school))
    assert [user.username for user in result.created] == ["mia.mueller", "ben.yilmaz", "k.schulz"]


def test_an_import_racing_another_one_retries_instead_of_failing(world, monkeypatch):
    """Two admins import the same file at once: the other import creates anna.becker after
    this one looked. The write fails on the unique username, and the import looks again
    and treats anna as an existing account instead of ending in a server error."""
    _import(world, CSV.splitlines()[0] + "\n" + CSV.splitlines()[1] + "\n")  # the other import
    look = services._school_accounts
    hidden = {"calls": 0}

    def before_the_other_import_committed(school, rows):
        hidden["calls"] += 1
        found = look(school, rows)
        return (
            {k: v for k, v in found.items() if k != "anna.becker"}
            if hidden["calls"] <= 2
            else found
        )

    monkeypatch.setattr(services, "_school_accounts", before_the_other_import_committed)
    result = _import(world, CSV)

    assert hidden["calls"] > 2  # it looked again
    assert sorted(u.username for u in result.created) == ["bert.yilmaz", "clara.neu", "xaver.lehr"]
    assert "anna.becker" not in {c.username for c in result.credentials}
    assert User.objects.filter(username="anna.becker").count() == 1


@pytest.mark.parametrize(
    ("encoding", "delimiter", "said"),
    [
        (
            "cp1252",
            ";",
            "Gelesen als Windows-1252 (Excels „CSV (Trennzeichen-getrennt)“), "
            "Spalten getrennt durch Semikolons.",
        ),
        ("utf-8-sig", ",", "Gelesen als UTF-8 mit BOM, Spalten getrennt durch Kommas."),
        ("utf-8", ";", "Gelesen als UTF-8, Spalten getrennt durch Semikolons."),
    ],
)
def test_excel_files_in_every_encoding_are_read_and_the_format_is_named(
    world, client_for, encoding, delimiter, said
):
    text = (
        "username;first_name;last_name;role;classes\n"
        "joerg.mueller;Jörg;Müller;Schüler;7a\n"
        "aenne.weiss;Änne;Weiß;Lehrerin;7a\n"
    ).replace(";", delimiter)
    data = text.replace("\n", "\r\n").encode(encoding)  # Excel ends lines with CRLF
    admin = client_for(world.admin)
    response = admin.post(
        "/accounts/admin/import/",
        {"file": SimpleUploadedFile("Schüler.csv", data, content_type="text/csv")},
    )
    assert response.status_code == 302
    page = admin.get(response["Location"]).content.decode()
    assert said in page
    joerg = User.objects.get(username="joerg.mueller")
    assert (joerg.first_name, joerg.last_name) == ("Jörg", "Müller")
    assert User.objects.get(username="aenne.weiss").last_name == "Weiß"


PARENTS_CSV = (
    "username;first_name;last_name;role;classes;parent1_username;parent1_first_name;"
    "parent1_last_name;parent1_email;parent2_username;parent2_first_name;parent2_last_name;"
    "parent2_email\n"
    "anna.becker;Anna;Becker;student;7a;maria.becker;Maria;Becker;maria@nord.example;"
    "paul.becker;Paul;Becker;\n"
    # Anna's brother in 7b: the same mother, named again, is one account.
    "tom.becker;Tom;Becker;student;7b;maria.becker;Maria;Becker;maria@nord.example;;;;\n"
    "clara.neu;Clara;Neu;student;8c;;;;;;;;\n"
)


def _links(school) -> set[tuple[str, str]]:
    from kreide.parents.models import ParentLink

    return set(
        ParentLink.objects.for_school(school).values_list("parent__username", "child__username")
    )


def test_the_student_file_names_parents_who_are_created_and_linked(world):
    result = _import(world, PARENTS_CSV)
    maria = User.objects.get(username="maria.becker")
    assert maria.role == User.Role.PARENT and maria.school == world.school
    assert maria.email == "maria@nord.example" and maria.must_change_password
    assert _memberships(maria) == set()
    assert _links(world.school) == {
        ("maria.becker", "anna.becker"),
        ("maria.becker", "tom.becker"),
        ("paul.becker", "anna.becker"),
    }
    slips = {c.username: c for c in result.credentials}
    assert {"maria.becker", "paul.becker"} <= set(slips)
    assert slips["paul.becker"].group == "7a"  # handed out through the child's class
    assert maria.check_password(slips["maria.becker"].password)
    assert AuditEntry.objects.for_school(world.school).filter(action="parent.linked").count() == 3
    # The parent sees both children; importing the file again changes nothing.
    from kreide.schools import access

    maria.must_change_password = False
    assert {c.username for c in access.children_of(maria)} == {"anna.becker", "tom.becker"}
    again = _import(world, PARENTS_CSV)
    assert not again.created and len(_links(world.school)) == 3


def test_a_file_links_existing_parent_accounts(world, make_user):
    mother = make_user(world.school, User.Role.PARENT, username="maria.becker",
                       first_name="Maria", last_name="Becker")  # fmt: skip
    text = (
        "username;first_name;last_name;role;classes;parent1_username;parent1_first_name;"
        "parent1_last_name\n"
        f"{world.student_7a.username};Lea;Klein;student;7a;maria.becker;Maria;Becker\n"
        # A parent with a line of their own is that account, linked to the child too.
        "lena.vogel;Lena;Vogel;student;7b;uwe.vogel;Uwe;Vogel\n"
        "uwe.vogel;Uwe;Vogel;parent;;;;\n"
    )
    result = _import(world, text)
    assert mother not in result.created
    assert _links(world.school) == {
        ("maria.becker", world.student_7a.username),
        ("uwe.vogel", "lena.vogel"),
    }
    assert User.objects.filter(username="uwe.vogel").count() == 1


def _problems(world, text: str) -> list[str]:
    with pytest.raises(importing.ImportFileError) as caught:
        importing.parse(text.encode(), world.school)
    return [str(error) for error in caught.value.errors]


HEADER = (
    "username;first_name;last_name;role;classes;parent1_username;parent1_first_name;"
    "parent1_last_name;parent1_email;parent2_username;parent2_first_name;parent2_last_name\n"
)


def test_bad_parent_columns_name_line_and_column_and_nothing_is_written(world, make_user):
    make_user(world.other_school, User.Role.PARENT, username="fremd.elter")
    text = HEADER + (
        "s.eins;Sa;Eins;student;7a;;Maria;Becker;;;;\n"  # username missing
        "s.zwei;Sa;Zwei;student;7a;m.zwei;;Zwei;keine-adresse;;;\n"  # name and e-mail
        "t.drei;Ta;Drei;teacher;7a;m.drei;Mo;Drei;;;;\n"  # only students name parents
        f"s.vier;Sa;Vier;student;7a;{world.teacher_7a.username};Te;Acher;;;;\n"  # not a parent
        "s.fuenf;Sa;Fuenf;student;7a;fremd.elter;Fr;Emd;;;;\n"  # another school's account
        "s.sechs;Sa;Sechs;student;7a;m.sechs;Mo;Sechs;;m.sechs;Mo;Sechs\n"  # twice in a line
        "s.sieben;Sa;Sieben;student;7a;m.acht;Mo;Acht;;;;\n"
        "s.acht;Sa;Acht;student;7b;m.acht;Mia;Acht;;;;\n"  # named differently
        "s.neun;Sa;Neun;student;7a;s.sieben;Sa;Sieben;;;;\n"  # a student of the file
    )
    problems = _problems(world, text)
    assert problems == [
        "Zeile 2, Spalte „parent1_username“: Der Benutzername des Elternteils fehlt.",
        "Zeile 3, Spalte „parent1_first_name“: Dieser Wert fehlt.",
        "Zeile 3, Spalte „parent1_email“: Das ist keine gültige E-Mail-Adresse.",
        "Zeile 4, Spalte „parent1_username“: Nur die Zeile einer Schülerin oder eines "
        "Schülers kann Eltern nennen.",
        "Zeile 7, Spalte „parent2_username“: Derselbe Elternteil ist in dieser Zeile "
        "zweimal genannt.",
        "Zeile 9, Spalte „parent1_username“: Dieser Elternteil ist in Zeile 8 anders genannt.",
        "Zeile 10, Spalte „parent1_username“: Das ist der Benutzername aus Zeile 8, "
        "der kein Elternteil ist.",
        "Zeile 5, Spalte „parent1_username“: Dieser Benutzername gehört hier zu einem "
        "Konto, das kein Elternteil ist.",
        "Zeile 6, Spalte „parent1_username“: Dieser Benutzername ist bereits vergeben.",
    ]
    assert not User.objects.filter(username__in=["s.sieben", "m.acht", "s.eins"]).exists()


def test_the_import_page_reports_parent_problems_and_imports_nothing(world, client_for):
    text = HEADER + "s.eins;Sa;Eins;student;7a;;Maria;Becker;;;;\n"
    response = client_for(world.admin).post(
        "/accounts/admin/import/",
        {"file": SimpleUploadedFile("schueler.csv", text.encode())},
    )
    page = response.content.decode()
    assert "Es wurde nichts importiert" in page
    assert "Der Benutzername des Elternteils fehlt." in page
    assert "parent1_username" in page  # listed among the columns
    assert not User.objects.filter(username="s.eins").exists()
