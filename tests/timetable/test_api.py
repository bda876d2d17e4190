import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kreide.timetable import services
from kreide.timetable.models import ImportKey, Lesson, Substitution
from tests.timetable.conftest import untis_files

pytestmark = pytest.mark.django_db

URL = "/api/v1/timetable/import"


def _files(school, **replace):
    return {
        f"f{number}": SimpleUploadedFile(name, data)
        for number, (name, data) in enumerate(untis_files(school, **replace).items())
    }


def _push(client, key, files, query=""):
    return client.post(f"{URL}{query}", files, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_an_export_job_pushes_with_the_schools_key(tt, client, client_for):
    page = client_for(tt.admin).post("/timetable/manage/", {"import_key": "renew"})
    key = page.context["new_key"]
    assert key in page.content.decode()
    assert ImportKey.objects.for_school(tt.school).get().secret_sha256 != key  # only the hash

    changed = _files(tt.school, **{'"Sp";"TH1";1;2;': '"Sp";"AULA";1;2;'})
    preview = _push(client, key, changed, "?dry_run=1").json()
    assert preview["applied"] is False
    assert preview["lessons_added"] == ["Mo 2. 7b Sp Schäfer AULA"]
    assert preview["classes_affected"] == ["7b"]
    assert not Lesson.objects.for_school(tt.school).filter(room__code="AULA").exists()

    applied = _push(client, key, _files(tt.school, **{'"Sp";"TH1";1;2;': '"Sp";"AULA";1;2;'}))
    assert applied.status_code == 200 and applied.json()["applied"] is True
    assert Lesson.objects.for_school(tt.school).filter(room__code="AULA").count() == 1
    again = _push(client, key, _files(tt.school, **{'"Sp";"TH1";1;2;': '"Sp";"AULA";1;2;'}))
    assert again.json()["changed"] is False


def test_wrong_or_revoked_keys_and_bad_exports_are_refused(tt, client, client_for):
    key = services.renew_import_key(tt.admin)
    assert _push(client, "falsch", _files(tt.school)).status_code == 401
    assert client.post(URL, _files(tt.school)).status_code == 401
    bad = _files(tt.school, **{'"7b";"MÜL";"Ma";"R102";5;1;': '"9z";"MÜL";"Ma";"R102";5;1;'})
    answer = _push(client, key, bad)
    assert answer.status_code == 400
    assert "GPU001.TXT, Zeile 17: Unbekannte Klasse „9z“." in answer.json()["problems"]
    exe = {"f": SimpleUploadedFile("GPU001.exe", b"MZ")}
    assert _push(client, key, exe).status_code == 400
    assert _push(client, key, _files(tt.school), "?format=xml").status_code == 400

    client_for(tt.admin).post("/timetable/manage/", {"import_key": "revoke"})
    assert _push(client, key, _files(tt.school)).status_code == 401
    assert Substitution.objects.for_school(tt.school).count() == 5  # nothing changed


def test_one_schools_key_never_writes_another_school(tt, client):
    other_key = services.renew_import_key(tt.other_admin)
    answer = _push(client, other_key, _files(tt.school))
    assert answer.status_code == 400  # 7a/7b of the other school: Müller and Schäfer unknown
    assert not Lesson.objects.for_school(tt.other_school).exists()


def test_only_admins_make_import_keys(tt, client_for):
    assert (
        client_for(tt.teacher_7a).post("/timetable/manage/", {"import_key": "renew"}).status_code
        == 403
    )
    assert not ImportKey.objects.for_school(tt.school).exists()


def test_the_push_is_a_registered_api_route_with_its_own_security(tt, client):
    from django.test import RequestFactory
    from django.urls import reverse

    from kreide.api import services as tokens
    from kreide.core.admission import HEAVY, classify

    assert reverse("timetable_push") == URL
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"][URL]["post"]
    assert operation["security"] == [{"importKey": []}]
    assert document["components"]["securitySchemes"]["importKey"]["scheme"] == "bearer"
    # A person's API token is not the school's import key.
    secret = tokens.create_token(tt.admin, "Skript", "write")
    assert _push(client, secret, _files(tt.school)).status_code == 401
    assert classify(RequestFactory().post(URL)) == HEAVY
