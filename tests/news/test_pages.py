"""The news pages: posting with files (tus), the list and the dashboard box for each
reader, edits shown as "bearbeitet", the parent's confirmation, bounded queries."""

import json

import pytest
from django.urls import reverse

from kreide.core.models import AuditEntry
from kreide.news import services
from kreide.news.models import News, NewsAttachment, Receipt
from tests.tasks.conftest import tus_upload
from tests.visible import shows

pytestmark = pytest.mark.django_db


def test_teacher_posts_a_letter_with_a_file_from_the_news_page(family, client_for):
    teacher = client_for(family.teacher_7a)
    form = teacher.get(reverse("news:create")).content.decode()
    assert 'data-upload-purpose="news-attachment"' in form
    assert shows(form, "7a") and not shows(form, "7b")  # only the classes they teach
    assert 'value="school"' not in form  # and only groups and their parents
    done = tus_upload(teacher, b"%PDF Einverstaendnis", purpose="news-attachment", filename="E.pdf")
    upload = json.loads(done["Kreide-Upload-Result"])["upload"]
    response = teacher.post(
        reverse("news:create"),
        {
            "title": "Wandertag",
            "body": "Bitte unterschreiben.",
            "audience": "parents",
            "groups": [family.class_7a.pk],
            "needs_confirmation": "on",
            "reply_choices": "Ja\nNein",
            "attachments": [upload],
        },
    )
    assert response.status_code == 302
    news = News.objects.for_school(family.school).get()
    assert news.is_letter and news.choices == ["Ja", "Nein"]
    attachment = NewsAttachment.objects.for_school(family.school).get()
    assert attachment.filename == "E.pdf"
    parent = client_for(family.parent)
    page = parent.get(reverse("news:detail", args=[news.pk])).content.decode()
    assert "Wandertag" in page and "Zur Kenntnis genommen für" in page
    download = parent.get(reverse("news:attachment", args=[news.pk, attachment.pk]))
    assert b"".join(download.streaming_content) == b"%PDF Einverstaendnis"
    # A classmate's parent-less family and other readers get nothing of it.
    for who in ("student_7a", "student_7b", "teacher_7b", "other_admin"):
        client = client_for(getattr(family, who))
        assert client.get(reverse("news:detail", args=[news.pk])).status_code in (403, 404)
        url = reverse("news:attachment", args=[news.pk, attachment.pk])
        assert client.get(url).status_code in (403, 404)


def test_uploads_for_news_only_by_posters(family, client_for, post):
    news = post(family.admin, "Alle")
    for who in ("student_7a", "parent"):
        refused = tus_upload(
            client_for(getattr(family, who)), b"x", purpose="news-attachment", filename="a.txt"
        )
        assert refused.status_code == 403, who
    refused = tus_upload(
        client_for(family.teacher_7a),
        b"x",
        purpose="news-attachment",
        news=str(news.pk),
        filename="a.txt",
    )
    assert refused.status_code == 403
    assert not NewsAttachment.objects.for_school(family.school).exists()


def test_bad_input_is_explained_and_kept(family, client_for):
    admin = client_for(family.admin)
    response = admin.post(
        reverse("news:create"),
        {"title": "Elternabend", "body": "Mein langer Text", "audience": "parents"},
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "Bitte mindestens eine Klasse oder Gruppe wählen." in page
    assert "Mein langer Text" in page
    response = admin.post(
        reverse("news:create"),
        {"title": "Alle", "audience": "school", "needs_confirmation": "on"},
    )
    assert "Nur Briefe an Eltern können eine Bestätigung verlangen." in response.content.decode()
    assert not News.objects.for_school(family.school).exists()


def test_parent_confirms_on_the_page_and_sees_who_confirmed(family, letter, client_for):
    url = reverse("news:confirm", args=[letter.pk])
    parent = client_for(family.parent)
    missing = parent.post(url, {"child": family.student_7a.pk}, follow=True)
    assert "Bitte wählen Sie eine der Antworten." in missing.content.decode()
    assert parent.post(url, {"child": family.classmate_7a.pk, "choice": "Ja"}).status_code == 403
    done = parent.post(url, {"child": family.student_7a.pk, "choice": "Nein"}, follow=True)
    assert "Vielen Dank" in done.content.decode()
    other = client_for(family.second_parent).get(reverse("news:detail", args=[letter.pk]))
    text = other.content.decode()
    assert f"Bestätigt von {family.parent.get_full_name()}" in text and "Nein" in text
    again = client_for(family.second_parent).post(
        url, {"child": family.student_7a.pk, "choice": "Ja"}, follow=True
    )
    assert "bereits bestätigt" in again.content.decode()
    assert Receipt.objects.for_school(family.school).get().choice == "Nein"


def test_edits_show_as_edited_and_the_dashboard_box_follows(family, client_for, post):
    news = post(family.admin, "Sportfest", body="Am Montag")
    student = client_for(family.student_7a)
    assert "Sportfest" in student.get("/").content.decode()
    admin = client_for(family.admin)
    response = admin.post(
        reverse("news:edit", args=[news.pk]),
        {"title": "Sportfest verschoben", "body": "Am Dienstag", "audience": "school"},
    )
    assert response.status_code == 302
    page = student.get(reverse("news:detail", args=[news.pk])).content.decode()
    assert "Sportfest verschoben" in page and "bearbeitet am" in page
    assert "Sportfest verschoben" in student.get("/").content.decode()
    assert "Sportfest" not in client_for(family.other_student).get("/").content.decode()
    # Deleting asks first.
    assert (
        "Diese Nachricht löschen?"
        in admin.get(reverse("news:delete", args=[news.pk])).content.decode()
    )
    admin.post(reverse("news:delete", args=[news.pk]))
    assert "Sportfest" not in student.get("/").content.decode()
    assert AuditEntry.objects.for_school(family.school).filter(action="news.deleted").exists()


def test_an_update_without_the_service_renews_the_dashboard_box(family, client_for, post):
    news = post(family.admin, "Sportfest")
    student = client_for(family.student_7a)
    assert "Sportfest" in student.get("/").content.decode()  # cached now
    News.objects.for_school(family.school).filter(pk=news.pk).update(title="Hitzefrei")
    page = student.get("/").content.decode()
    assert "Hitzefrei" in page and "Sportfest" not in page


def test_a_queryset_update_bumps_each_scope_once(family, post, monkeypatch):
    from kreide.core import fragments

    for title in ("Sportfest", "Hitzefrei", "Elternabend"):
        post(family.admin, title)
    bumped = []
    monkeypatch.setattr(fragments, "bump", lambda *scopes: bumped.extend(scopes))
    assert News.objects.for_school(family.school).update(pinned=True) == 3
    assert bumped == [services.news_scope(family.school.pk)]


def test_list_and_dashboard_queries_do_not_grow_with_the_news(
    family, client_for, post, django_assert_max_num_queries
):
    def add(count: int) -> None:
        for number in range(count):
            post(family.teacher_7a, f"Info {number}", News.Audience.GROUPS, [family.class_7a])
            post(family.admin, f"Alle {number}", pinned=number == 0)
            post(family.teacher_7a, f"Eltern {number}", News.Audience.PARENTS, [family.class_7a])

    add(2)
    for user in (family.student_7a, family.teacher_7a, family.parent, family.admin):
        client = client_for(user)
        client.get(reverse("news:index"))
        with django_assert_max_num_queries(12) as few:
            assert client.get(reverse("news:index")).status_code == 200
        add(5)
        with django_assert_max_num_queries(len(few.captured_queries)):
            assert client.get(reverse("news:index")).status_code == 200
    student = client_for(family.student_7a)
    student.get("/")
    with django_assert_max_num_queries(30) as dashboard:
        page = student.get("/").content.decode()
    assert "Alle 0" in page and "Angeheftet" in page
    assert not [q for q in dashboard.captured_queries if "news_news" in q["sql"]]  # cached


def test_operators_post_school_news_from_operator(family, make_user, client_for):
    operator = make_user(None, username="betrieb", is_staff=True, is_superuser=True)
    client = client_for(operator)
    assert client.get("/operator/news/news/add/").status_code == 200
    response = client.post(
        "/operator/news/news/add/",
        {
            "school": family.school.pk,
            "title": "Störung behoben",
            "body": "Alles läuft wieder.",
            "audience": "school",
            "published_at_0": "2026-01-05",
            "published_at_1": "08:00:00",
            "reply_choices": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "Störung behoben" in client_for(family.student_7a).get("/").content.decode()
    assert services.announce_due() == 1  # what `kreide news-announce` does every minute
    assert News.objects.for_school(family.school).get().announced_at is not None


def test_detail_page_queries_do_not_grow_with_files_or_children(
    family, letter, client_for, make_user, django_assert_max_num_queries
):
    from kreide.accounts.models import User
    from kreide.parents.models import ParentLink
    from kreide.storage.blobstore import store_bytes

    url = reverse("news:detail", args=[letter.pk])
    parent = client_for(family.parent)
    parent.get(url)
    with django_assert_max_num_queries(15) as few:
        assert parent.get(url).status_code == 200
    for number in range(4):
        services.add_attachment(
            family.teacher_7a, letter, store_bytes(f"Datei {number}".encode()), f"{number}.pdf"
        )
        child = make_user(family.school, User.Role.STUDENT, groups=(family.class_7a,))
        ParentLink.unscoped.create(school=family.school, parent=family.parent, child=child)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = parent.get(url).content.decode()
    assert page.count("Zur Kenntnis genommen für") == 5
