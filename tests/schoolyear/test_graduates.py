"""Graduates and leavers of the rollover keep a read-only sign-in until the retention rules
erase their account: their archive, a copy of their data and their password, nothing else
(docs/school-year.md, "Graduates and leavers")."""

import base64
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kreide.accounts import services as account_services
from kreide.accounts.models import User
from kreide.messenger.auth import user_for_session
from kreide.privacy import retention
from kreide.privacy.models import AccessExport
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

REFUSAL = "Dein Konto wurde geschlossen, als du die Schule verlassen hast."


def _signed_in(user: User) -> Client:
    """Through the sign-in form, as the graduate would: no force_login."""
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def test_the_rollover_gives_graduates_and_leavers_a_read_only_sign_in(rolled):
    for name in ("graduate", "leaver"):
        account = User.objects.get(pk=getattr(rolled, name).pk)
        assert not account.is_active and account.left_school, name
    # Students moving up keep their ordinary account.
    moving = User.objects.get(pk=rolled.student_7a.pk)
    assert moving.is_active and not moving.left_school


def test_a_graduate_signs_in_and_lands_in_the_archive(rolled):
    client = _signed_in(rolled.graduate)
    home = client.get("/")
    assert home.status_code == 302 and home.url == reverse("schoolyear:archives")
    page = client.get(reverse("schoolyear:archives")).content.decode()
    assert "10a (2025/26)" in page and "Du hast die Schule verlassen" in page
    # The navigation offers the archive only; the account links stay.
    nav = page.split('aria-label="Hauptnavigation"')[1].split("</nav>")[0]
    assert nav.count("<li>") == 1 and f'href="{reverse("schoolyear:archives")}"' in nav
    assert f'href="{reverse("privacy:mine")}"' in page


def test_a_leaver_reads_their_old_class(rolled):
    page = _signed_in(rolled.leaver).get(reverse("schoolyear:archive", args=[rolled.class_7a.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Bruchrechnung" in text and "KLASSENCHAT" in text


def test_a_graduate_reads_no_other_class(rolled):
    client = _signed_in(rolled.graduate)
    assert client.get(reverse("schoolyear:archive", args=[rolled.class_7a.pk])).status_code == 403
    listing = client.get(reverse("schoolyear:archives")).content.decode()
    assert "7a (2025/26)" not in listing


def test_a_graduate_asks_for_and_sees_their_copy(rolled, settings, tmp_path):
    settings.PRIVACY_EXPORT_DIR = tmp_path
    client = _signed_in(rolled.graduate)
    assert client.get(reverse("privacy:mine")).status_code == 200
    assert client.post(reverse("privacy:mine")).status_code == 302
    export = AccessExport.objects.for_school(rolled.school).get()
    assert export.subject_id == export.requested_by_id == rolled.graduate.pk
    copies = reverse("privacy:copies", args=[rolled.graduate.pk])
    assert client.get(copies).status_code == 200
    # Someone else's copies stay closed.
    other = reverse("privacy:copies", args=[rolled.student_7a.pk])
    assert client.get(other).status_code == 403


def test_a_graduate_changes_their_password_and_signs_out(rolled):
    client = _signed_in(rolled.graduate)
    assert client.get(reverse("accounts:password_change")).status_code == 200
    new = "ein-neues-Passwort-2027"
    response = client.post(
        reverse("accounts:password_change"),
        {"current_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert User.objects.get(pk=rolled.graduate.pk).check_password(new)
    # Still signed in (the session follows the new hash), then out.
    assert client.get(reverse("schoolyear:archives")).status_code == 200
    client.post(reverse("accounts:logout"))
    assert client.get(reverse("schoolyear:archives")).status_code == 302


def _refused_pages(world) -> list[str]:
    return [
        reverse("tasks:list"),
        reverse("files:home"),
        reverse("messenger:index"),
        reverse("messenger:direct_search") + "?q=Nachname",
        reverse("mail:directory"),
        reverse("accounts:my_classes"),
        reverse("accounts:user_list"),
        reverse("accounts:two_factor"),
        reverse("timetable:my_day"),
        reverse("timetable:my_week"),
        reverse("news:index"),
        reverse("video:list"),
        reverse("parents:home"),
        reverse("notifications:index"),
        reverse("notifications:count"),
        reverse("privacy:overview"),
        reverse("schoolyear:school_year"),
        "/api/v1/tasks/",
    ]


def test_every_other_page_is_refused(rolled):
    client = _signed_in(rolled.graduate)
    for url in _refused_pages(rolled):
        response = client.get(url)
        assert response.status_code == 403, url
    page = client.get(reverse("tasks:list")).content.decode()
    assert REFUSAL in page
    # A script gets the refusal as JSON.
    response = client.get("/api/v1/tasks/", HTTP_ACCEPT="application/json")
    assert response.json()["error"] == "refused"


def test_writes_are_refused_too(rolled):
    client = _signed_in(rolled.graduate)
    response = client.post(
        reverse("messenger:index"), {"text": "Hallo"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 403


def test_no_other_way_in(rolled):
    graduate = rolled.graduate
    # WebDAV with the password: refused like any deactivated account.
    basic = base64.b64encode(f"{graduate.username}:{PASSWORD}".encode()).decode()
    dav = Client().generic(
        "PROPFIND", f"/dav/{graduate.username}/", HTTP_AUTHORIZATION=f"Basic {basic}"
    )
    assert dav.status_code == 401
    # The real-time process (messenger, notification bell) sees nobody.
    client = _signed_in(graduate)
    key = client.cookies["sessionid"].value
    assert not user_for_session(key).is_authenticated


def test_an_account_the_office_deactivated_cannot_sign_in(world):
    account_services.set_active(world.admin, world.student_7b, False)
    response = Client().post(
        reverse("accounts:login"), {"username": world.student_7b.username, "password": PASSWORD}
    )
    assert response.status_code == 200  # the form again, with the error


def test_the_office_reactivating_or_deactivating_ends_the_read_only_sign_in(rolled):
    graduate = User.objects.get(pk=rolled.graduate.pk)
    account_services.set_active(rolled.admin, graduate, True)
    account_services.set_active(rolled.admin, graduate, False)
    assert not User.objects.get(pk=graduate.pk).left_school
    response = Client().post(
        reverse("accounts:login"), {"username": graduate.username, "password": PASSWORD}
    )
    assert response.status_code == 200


def test_the_office_sees_it_and_ends_it(rolled, client_for):
    office = client_for(rolled.admin)
    listing = office.get(reverse("accounts:user_list") + "?status=inactive").content.decode()
    assert listing.count("liest das Archiv") == 2  # the graduate and the leaver
    page = office.get(reverse("accounts:user_edit", args=[rolled.graduate.pk])).content.decode()
    assert "Diese Anmeldung beenden" in page
    office.post(reverse("accounts:user_set_active", args=[rolled.graduate.pk]), {"active": "0"})
    account = User.objects.get(pk=rolled.graduate.pk)
    assert not account.is_active and not account.left_school
    response = Client().post(
        reverse("accounts:login"), {"username": account.username, "password": PASSWORD}
    )
    assert response.status_code == 200


def test_the_retention_rule_ends_it(rolled):
    retention.run(rolled.school, now=timezone.now() + timedelta(days=366))
    assert not User.objects.filter(pk=rolled.graduate.pk).exists()
    response = Client().post(
        reverse("accounts:login"), {"username": rolled.graduate.username, "password": PASSWORD}
    )
    assert response.status_code == 200
