"""Webmail pages without mail servers: who may open them, and the plain notice."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from kreide.accounts.models import User
from kreide.mail import views, webmail

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


# The inbox's folder list and rows as its template's loops wrote them (before they were
# built in Python, kreide/mail/views.py): the same markup for any name, count and date.
TEMPLATE_LOOPS = """{% load i18n %}
{% for item in folders %}
<li><a href="?folder={{ item.name|urlencode }}"{% if item.name == folder %} aria-current="page"{% endif %}>{{ item.label }}</a>
  {% if item.unread %}<span class="badge warn" aria-label="{% blocktranslate count n=item.unread %}{{ n }} unread{% plural %}{{ n }} unread{% endblocktranslate %}">{{ item.unread }}</span>{% endif %}</li>
{% endfor %}
<hr>
{% for item in page.messages %}
<li class="{% if not item.seen %}unread{% endif %}">
  <a href="{% url 'mail:message' item.uid %}?folder={{ folder|urlencode }}">
    <span class="mail-from">{{ item.sender|default:_("(unknown)") }}</span>
    <span class="mail-subject">{{ item.subject|default:_("(no subject)") }}</span>
    {% if item.date %}<time datetime="{{ item.date.isoformat }}">{{ item.date|date:"SHORT_DATETIME_FORMAT" }}</time>{% endif %}
  </a>
</li>
{% endfor %}"""  # noqa: E501


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("folder", ["INBOX", "Sent", 'Ä & <b>"x"</b>/y z'])
def test_the_inbox_builds_its_folders_and_rows_as_its_template_did(language, folder):
    folders = [
        webmail.Folder("INBOX", 2, 5),
        webmail.Folder("Sent", 0, 3),
        webmail.Folder("Junk", 1, 1),
        webmail.Folder('Ä & <b>"x"</b>/y z', 0, 0),
    ]
    messages = [
        webmail.Summary(7, "Grüße <b>&</b>", 'Müller "Hans"', datetime(2026, 12, 7, 8, 5), False),
        webmail.Summary(4_000_000_000, "", "", None, True),
        webmail.Summary(12, "Plain", "a@b.example", datetime(2026, 1, 31, 23, 59, 1), True),
    ]
    page = webmail.Page(messages, 1, 3)

    def tidy(html: str) -> str:
        return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()

    with translation.override(language):
        loops = Template(TEMPLATE_LOOPS).render(
            Context({"folders": folders, "folder": folder, "page": page})
        )
        built = f"{views._folder_items(folders, folder)}<hr>{views._rows(messages, folder)}"
    assert tidy(built) == tidy(loops)
