import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kreide.accounts.models import User
from kreide.core.models import AuditEntry
from kreide.schools.models import Membership
from tests.conftest import PASSWORD

# Pages only school admins may open (GET); each takes the ids of the admin's own school.
ADMIN_PAGES = [
    "/accounts/admin/users/",
    "/accounts/admin/users/new/",
    "/accounts/admin/users/{student}/",
    "/accounts/admin/import/",
    "/accounts/admin/audit/",
    "/accounts/admin/groups/",
    "/accounts/admin/groups/new/",
    "/accounts/admin/groups/{group}/",
]
ADMIN_ACTIONS = [
    "/accounts/admin/users/{student}/active/",
    "/accounts/admin/groups/{group}/members/",
    "/accounts/admin/groups/{group}/members/{student}/remove/",
    "/accounts/admin/groups/{group}/active/",
]


def _urls(urls, world):
    ids = {"student": world.student_7a.pk, "group": world.class_7a.pk}
    return [url.format(**ids) for url in urls]


def test_admin_sees_every_page(client_for, world):
    admin = client_for(world.admin)
    for url in _urls(ADMIN_PAGES, world):
        assert admin.get(url).status_code == 200, url


def test_anonymous_goes_to_login(client, world):
    for url in _urls(ADMIN_PAGES + ["/accounts/my-classes/", "/accounts/two-factor/"], world):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    for url in _urls(ADMIN_ACTIONS, world) + [
        f"/accounts/users/{world.student_7a.pk}/reset-password/",
        f"/accounts/groups/{world.class_7a.pk}/reprint-slips/",
        f"/accounts/admin/users/{world.teacher_7a.pk}/two-factor/",
    ]:
        response = client.post(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_students_and_teachers_are_refused(client_for, world):
    for user in (world.student_7a, world.teacher_7a):
        signed_in = client_for(user)
        for url in _urls(ADMIN_PAGES, world):
            assert signed_in.get(url).status_code == 403, (user, url)
        for url in _urls(ADMIN_ACTIONS, world):
            assert signed_in.post(url, {"active": "0"}).status_code == 403, (user, url)
    world.student_7a.refresh_from_db()
    assert world.student_7a.is_active
    assert client_for(world.student_7a).get("/accounts/my-classes/").status_code == 403


def test_other_schools_ids_are_404(client_for, world):
    admin = client_for(world.admin)
    foreign = {"student": world.other_student.pk, "group": world.other_class.pk}
    for url in ADMIN_PAGES[2:3] + ADMIN_PAGES[7:]:
        assert admin.get(url.format(**foreign)).status_code == 404, url
    for url in ADMIN_ACTIONS:
        assert admin.post(url.format(**foreign), {"active": "0"}).status_code == 404, url
    # Own group, other school's user.
    url = f"/accounts/admin/groups/{world.class_7a.pk}/members/{world.other_student.pk}/remove/"
    assert admin.post(url).status_code == 404
    reset = f"/accounts/users/{world.other_student.pk}/reset-password/"
    assert admin.post(reset).status_code == 404
    assert (
        client_for(world.other_admin)
        .get(f"/accounts/admin/users/{world.student_7a.pk}/")
        .status_code
        == 404
    )
    world.other_student.refresh_from_db()
    assert world.other_student.is_active


def test_user_list_filters_and_needs_a_bounded_number_of_queries(client_for, world, make_user):
    admin = client_for(world.admin)
    for _ in range(2):  # warm the session cache and the process's copy of the user
        admin.get("/accounts/admin/users/")
    with CaptureQueriesContext(connection) as few:
        admin.get("/accounts/admin/users/")
    for _ in range(30):
        make_user(world.school, groups=(world.class_7a, world.class_7b))
    with CaptureQueriesContext(connection) as many:
        response = admin.get("/accounts/admin/users/")
    assert len(many) == len(few)
    assert world.other_student.username not in response.content.decode()
    filtered = admin.get(
        "/accounts/admin/users/", {"q": world.student_7b.last_name, "role": "student"}
    )
    assert list(filtered.context["page"].object_list) == [world.student_7b]
    by_class = admin.get("/accounts/admin/users/", {"group": world.class_7b.pk})
    assert set(by_class.context["page"].object_list) >= {world.student_7b, world.teacher_7b}
    assert world.student_7a not in by_class.context["page"].object_list


def test_admin_creates_edits_and_deactivates_an_account(client_for, world):
    admin = client_for(world.admin)
    response = admin.post(
        "/accounts/admin/users/new/",
        {
            "first_name": "Neu",
            "last_name": "Ling",
            "username": "neu.ling",
            "email": "",
            "role": "student",
            "groups": [world.class_7b.pk],
        },
    )
    assert response.status_code == 302
    page = admin.get(response["Location"])
    assert "neu.ling" in page.content.decode()
    password = page.context["items"][0].password
    neu = User.objects.get(username="neu.ling")
    assert neu.check_password(password) and neu.must_change_password and neu.school == world.school
    assert (
        Membership.objects.for_school(world.school).filter(user=neu, group=world.class_7b).exists()
    )

    response = admin.post(
        f"/accounts/admin/users/{neu.pk}/",
        {
            "first_name": "Neu",
            "last_name": "Ling",
            "username": "neu.ling",
            "email": "",
            "role": "teacher",
            "groups": [world.class_7a.pk],
        },
    )
    assert response.status_code == 302
    memberships = Membership.objects.for_school(world.school).filter(user=neu)
    assert [(m.group_id, m.role) for m in memberships] == [(world.class_7a.pk, "teacher")]
    admin.post(f"/accounts/admin/users/{neu.pk}/active/", {"active": "0"})
    neu.refresh_from_db()
    assert not neu.is_active
    actions = set(
        AuditEntry.objects.for_school(world.school)
        .filter(target_id=str(neu.pk))
        .values_list("action", flat=True)
    )
    assert {"account.created", "account.role_changed", "account.deactivated"} <= actions


def test_username_taken_gives_german_error(client_for, world):
    response = client_for(world.admin).post(
        "/accounts/admin/users/new/",
        {
            "first_name": "A",
            "last_name": "B",
            "username": world.other_student.username.upper(),
            "role": "student",
        },
    )
    assert "Dieser Benutzername ist bereits vergeben." in response.content.decode()


def test_upload_import_bad_file_shows_german_errors(client_for, world):
    upload = SimpleUploadedFile(
        "k.csv", b"username;first_name;last_name;role;classes\na.b;Anna;;student;7a\n"
    )
    response = client_for(world.admin).post("/accounts/admin/import/", {"file": upload})
    content = response.content.decode()
    assert "Es wurde nichts importiert." in content
    assert "Zeile 2, Spalte „last_name“: Dieser Wert fehlt." in content
    assert not User.objects.filter(username="a.b").exists()


def test_upload_import_offers_slips_only_to_the_importer(client_for, world, make_user):
    upload = SimpleUploadedFile(
        "k.csv", b"username;first_name;last_name;role;classes\na.b;Anna;Bolte;student;7a\n"
    )
    admin = client_for(world.admin)
    response = admin.post("/accounts/admin/import/", {"file": upload})
    assert response.status_code == 302
    result = admin.get(response["Location"])
    assert "1 angelegt" in result.content.decode()
    pdf = admin.get(response["Location"] + "slips.pdf")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    second_admin = make_user(world.school, User.Role.SCHOOL_ADMIN)
    assert client_for(second_admin).get(response["Location"]).status_code == 404
    assert client_for(second_admin).get(response["Location"] + "slips.pdf").status_code == 404


def test_audit_log_shows_only_own_school_and_filters(client_for, world):
    client_for(world.admin).post(
        f"/accounts/admin/users/{world.student_7b.pk}/active/", {"active": "0"}
    )
    client_for(world.other_admin).post(
        f"/accounts/admin/users/{world.other_student.pk}/active/", {"active": "0"}
    )
    page = client_for(world.admin).get("/accounts/admin/audit/", {"action": "account.deactivated"})
    entries = list(page.context["page"].object_list)
    assert [e.target_id for e in entries] == [str(world.student_7b.pk)]
    assert entries[0].actor == world.admin
    assert "Konto deaktiviert" in page.content.decode()


def test_saving_an_account_keeps_its_deactivated_groups(client_for, world, make_group):
    old_course = make_group(world.school, "Alte AG", kind="workgroup", grade=None)
    old_course.is_active = False
    old_course.save()
    Membership.unscoped.create(school=world.school, group=old_course, user=world.student_7a)
    admin = client_for(world.admin)
    form = admin.get(f"/accounts/admin/users/{world.student_7a.pk}/").context["form"]
    data = {**form.initial, "groups": [g.pk for g in form.initial["groups"]]}
    data = {key: value for key, value in data.items() if value is not None}
    assert admin.post(f"/accounts/admin/users/{world.student_7a.pk}/", data).status_code == 302
    kept = Membership.objects.for_school(world.school).filter(user=world.student_7a)
    assert {m.group_id for m in kept} == {world.class_7a.pk, old_course.pk}


def test_teacher_resets_password_of_own_student_only(client_for, world):
    teacher = client_for(world.teacher_7a)
    page = teacher.get("/accounts/my-classes/").content.decode()
    assert world.student_7a.username in page and world.student_7b.username not in page
    response = teacher.post(f"/accounts/users/{world.student_7a.pk}/reset-password/")
    assert response.status_code == 302
    slip = teacher.get(response["Location"])
    password = slip.context["items"][0].password
    assert slip.context["items"][0].group == "7a"
    world.student_7a.refresh_from_db()
    assert world.student_7a.check_password(password) and world.student_7a.must_change_password
    # A student of another class (403), another school (404), a colleague (403).
    assert teacher.post(f"/accounts/users/{world.student_7b.pk}/reset-password/").status_code == 403
    assert (
        teacher.post(f"/accounts/users/{world.other_student.pk}/reset-password/").status_code == 404
    )
    assert teacher.post(f"/accounts/users/{world.teacher_7b.pk}/reset-password/").status_code == 403
    assert (
        client_for(world.classmate_7a)
        .post(f"/accounts/users/{world.student_7b.pk}/reset-password/")
        .status_code
        == 403
    )
    assert (
        AuditEntry.objects.for_school(world.school)
        .filter(action="account.password_reset", actor=world.teacher_7a)
        .count()
        == 1
    )


def test_teachers_of_a_deactivated_class_no_longer_manage_its_accounts(
    client_for, world, deactivate
):
    deactivate(world.class_7a)
    teacher = client_for(world.teacher_7a)
    assert world.student_7a.username not in teacher.get("/accounts/my-classes/").content.decode()
    assert teacher.post(f"/accounts/users/{world.student_7a.pk}/reset-password/").status_code == 403
    reprint = f"/accounts/groups/{world.class_7a.pk}/reprint-slips/"
    assert teacher.post(reprint).status_code == 403
    # The school office still does.
    admin = client_for(world.admin)
    assert admin.post(f"/accounts/users/{world.student_7a.pk}/reset-password/").status_code == 302


def test_nav_item_only_for_school_admins(client_for, world):
    assert "Schulverwaltung" in client_for(world.admin).get("/").content.decode()
    assert "Schulverwaltung" not in client_for(world.teacher_7a).get("/").content.decode()
    assert "Meine Klassen</a>" in client_for(world.teacher_7a).get("/").content.decode()


@pytest.fixture(autouse=True)
def _german(settings):
    settings.LANGUAGE_CODE = "de"


def test_class_teacher_reprints_slips_for_students_not_signed_in(client_for, world):
    world.student_7a.must_change_password = True
    world.student_7a.save()
    url = f"/accounts/groups/{world.class_7a.pk}/reprint-slips/"
    assert client_for(world.teacher_7b).post(url).status_code == 403
    assert client_for(world.student_7b).post(url).status_code == 403
    assert client_for(world.other_admin).post(url).status_code == 404
    teacher = client_for(world.teacher_7a)
    response = teacher.post(url)
    page = teacher.get(response["Location"])
    assert "Neue Zettel für 7a" in page.content.decode()
    items = page.context["items"]
    assert [item.username for item in items] == [world.student_7a.username]
    world.student_7a.refresh_from_db()
    assert world.student_7a.check_password(items[0].password)
    world.classmate_7a.refresh_from_db()
    assert world.classmate_7a.check_password(PASSWORD)  # already in use: untouched


def test_password_reset_asks_first_and_says_whom_it_hits(client_for, world):
    teacher = client_for(world.teacher_7a)
    url = f"/accounts/users/{world.student_7a.pk}/reset-password/"
    classes = teacher.get("/accounts/my-classes/").content.decode()
    assert f'href="{url}"' in classes and "<form" not in classes.split("<main")[1]
    asked = teacher.get(url, HTTP_REFERER="http://testserver/accounts/my-classes/")
    page = asked.content.decode()
    assert asked.status_code == 200
    assert world.student_7a.first_name in page and world.student_7a.username in page
    assert "funktioniert sofort nicht mehr" in page
    assert 'href="http://testserver/accounts/my-classes/"' in page  # cancel goes back
    world.student_7a.refresh_from_db()
    assert world.student_7a.check_password(PASSWORD)  # nothing happened yet
    assert client_for(world.teacher_7b).get(url).status_code == 403
    assert teacher.post(url).status_code == 302
    world.student_7a.refresh_from_db()
    assert not world.student_7a.check_password(PASSWORD)


def test_new_slips_for_a_class_list_whose_slips_are_replaced(client_for, world):
    world.student_7a.must_change_password = True
    world.student_7a.save()
    url = f"/accounts/groups/{world.class_7a.pk}/reprint-slips/"
    teacher = client_for(world.teacher_7a)
    page = teacher.get(url).content.decode()
    assert "Neue Zettel für 7a?" in page
    assert f"{world.student_7a.first_name} {world.student_7a.last_name}" in page
    assert world.classmate_7a.last_name not in page  # already signed in: untouched
    world.student_7a.refresh_from_db()
    assert world.student_7a.check_password(PASSWORD)
    assert client_for(world.teacher_7b).get(url).status_code == 403
    # Nobody left to sign in for the first time: nothing to confirm.
    world.student_7a.must_change_password = False
    world.student_7a.save()
    assert teacher.get(url).status_code == 302


def test_account_page_names_the_class_above_the_long_list(client_for, world, make_group):
    for number in range(40):  # a real school's classes: 7a is far down the list
        make_group(world.school, f"5{number:02d}", grade=5)
    page = client_for(world.admin).get(f"/accounts/admin/users/{world.student_7a.pk}/")
    body = page.content.decode()
    summary = body.split('class="current-groups"')[1].split("</p>")[0]
    assert "<strong>7a</strong>" in summary and "7b" not in summary
    assert body.index('class="current-groups"') < body.index('class="checklist-items"')


def test_deactivating_and_turning_off_two_factor_ask_first(client_for, world):
    admin = client_for(world.admin)
    url = f"/accounts/admin/users/{world.teacher_7a.pk}/active/"
    edit = admin.get(f"/accounts/admin/users/{world.teacher_7a.pk}/").content.decode()
    assert f'href="{url}"' in edit
    page = admin.get(url).content.decode()
    assert "deaktivieren?" in page and world.teacher_7a.username in page
    assert 'name="active" value="0"' in page
    world.teacher_7a.refresh_from_db()
    assert world.teacher_7a.is_active  # only asked
    admin.post(url, {"active": "0"})
    world.teacher_7a.refresh_from_db()
    assert not world.teacher_7a.is_active
    two_factor = f"/accounts/admin/users/{world.teacher_7a.pk}/two-factor/"
    assert "Handy und Backup-Codes" in admin.get(two_factor).content.decode()
    assert client_for(world.teacher_7b).get(two_factor).status_code == 403
