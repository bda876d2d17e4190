"""Webmail pages without mail servers: who may open them, and the plain notice."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kreide.accounts.models import User

pytestmark = pytest.mark.django_db

PAGES = [
    ("get", reverse("mail:inbox")),
    ("get", reverse("mail:compose")),
    ("get", reverse("mail:message", args=[1])),
    ("get", reverse("mail:attachment", args=[1, 0])),
    ("post", reverse("mail:delete", args=[1])),
    ("post", reverse("mail:move", args=[1])),
]


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_signed_out_visitors_are_sent_to_sign_in(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


@pytest.mark.parametrize(("method", "url"), [*PAGES, ("get", reverse("mail:directory"))])
def test_operators_without_a_school_have_no_mailbox(make_user, client_for, method, url):
    operator = make_user(None, User.Role.SCHOOL_ADMIN, is_staff=True)
    assert getattr(client_for(operator), method)(url).status_code == 404


def test_uids_beyond_imaps_range_are_not_found(world, client_for):
    url = reverse("mail:message", args=[2**32])
    assert client_for(world.student_7a).get(url).status_code == 404


def test_without_mail_servers_the_webmail_says_so(world, client_for):
    client = client_for(world.student_7a)
    response = client.get(reverse("mail:inbox"))
    assert response.status_code == 503
    assert "nicht erreichbar" in response.content.decode()
    dashboard = client.get(reverse("dashboard:home")).content.decode()
    assert reverse("mail:inbox") not in dashboard  # no mail entry in nav or dashboard


def test_directory_offers_lists_only_to_those_who_may_write_to_them(world, client_for):
    student = client_for(world.student_7a).get(reverse("mail:directory"), {"to": "klasse"})
    teacher = client_for(world.teacher_7a).get(reverse("mail:directory"), {"to": "klasse"})
    assert "klasse-7a@nord.kreide.test" not in student.content.decode()
    assert "klasse-7a@nord.kreide.test" in teacher.content.decode()
    office = client_for(world.student_7a).get(reverse("mail:directory"), {"to": "sekre"})
    assert "sekretariat@nord.kreide.test" in office.content.decode()


def test_api_me_names_the_address_where_mail_runs(world, client_for, settings, tmp_path):
    client = client_for(world.student_7a)
    assert "mail" not in client.get("/api/v1/me").json()
    settings.MAIL_DIR = tmp_path  # as written by `kreide mail-config`
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "dovecot.conf").touch()
    assert (
        client.get("/api/v1/me").json()["mail"] == f"{world.student_7a.username}@nord.kreide.test"
    )
