import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kreide.accounts.models import User
from kreide.timetable.models import Lesson, Substitution
from tests.timetable.conftest import untis_files

pytestmark = pytest.mark.django_db

URL = "/timetable/manage/import/"


@pytest.fixture
def teachers(world, make_user):
    make_user(world.school, User.Role.TEACHER, groups=(world.class_7a,), last_name="Müller")
    make_user(world.school, User.Role.TEACHER, groups=(world.class_7b,), last_name="Schäfer")
    return world


def _uploads(school, **replace):
    return [
        SimpleUploadedFile(name, data, content_type="text/plain")
        for name, data in untis_files(school, **replace).items()
    ]


def test_office_previews_the_diff_then_applies_it(teachers, client_for):
    client = client_for(teachers.admin)
    page = client.post(URL, {"files": _uploads(teachers.school), "format": "untis"})
    text = page.content.decode()
    assert "Was sich ändern würde" in text and "+ Mo 1. 7a Ma Müller R101" in text
    assert not Lesson.objects.for_school(teachers.school).exists()
    pending = page.context["preview"]
    text = client.post(URL, {"pending": pending}).content.decode()
    assert "Importiert" in text
    assert Lesson.objects.for_school(teachers.school).count() == 17
    assert Substitution.objects.for_school(teachers.school).count() == 5
    # The same preview cannot be applied twice; the same export again changes nothing.
    assert "abgelaufen" in client.post(URL, {"pending": pending}).content.decode()
    again = client.post(URL, {"files": _uploads(teachers.school), "apply": "on"})
    assert "bereits importiert" in again.content.decode()


def test_office_sees_the_problems_by_line(teachers, client_for):
    files = _uploads(
        teachers.school, **{'"7b";"MÜL";"Ma";"R102";5;1;': '"9z";"MÜL";"Ma";"R102";5;1;'}
    )
    text = client_for(teachers.admin).post(URL, {"files": files, "apply": "on"}).content.decode()
    assert "GPU001.TXT, Zeile 17: Unbekannte Klasse „9z“." in text
    assert not Lesson.objects.for_school(teachers.school).exists()


def test_only_text_exports_and_only_admins(teachers, client_for):
    exe = SimpleUploadedFile("GPU001.exe", b"MZ", content_type="application/octet-stream")
    text = client_for(teachers.admin).post(URL, {"files": [exe]}).content.decode()
    assert "Nur .TXT" in text
    assert client_for(teachers.teacher_7a).get(URL).status_code == 403
    assert (
        client_for(teachers.teacher_7a).post(URL, {"files": _uploads(teachers.school)}).status_code
        == 403
    )
    assert not Lesson.objects.for_school(teachers.school).exists()
