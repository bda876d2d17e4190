"""A student's task page: the task's part is kept per process for what it shows; each
student still gets their own text, submission and CSRF token, and a change shows at once."""

import re
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from kreide.tasks import services
from kreide.tasks.models import Task
from kreide.tasks.templatetags import tasks_tags

pytestmark = pytest.mark.django_db

TEXT_TOKEN = re.compile(
    r'<form method="post" action="/tasks/\d+/submission/text/"><input type="hidden" '
    r'name="csrfmiddlewaretoken" value="([^"]+)"'
)
ANY_TOKEN = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')


def _client(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _page(client, task) -> str:
    response = client.get(reverse("tasks:detail", args=[task.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _textarea(page: str) -> str:
    return page.split('id="id_text">', 1)[1].split("</textarea>", 1)[0]


def test_each_student_gets_their_own_text_and_a_token_that_works(world, make_task):
    task = make_task(expects=Task.Expects.BOTH)
    services.save_text(world.student_7a, task, 'Mein <b>Text</b> & "Zitat"')
    first, second = _client(world.student_7a), _client(world.classmate_7a)

    first_page = _page(first, task)
    second_page = _page(second, task)  # from the kept part

    assert _textarea(first_page) == "\nMein &lt;b&gt;Text&lt;/b&gt; &amp; &quot;Zitat&quot;"
    assert _textarea(second_page) == "\n"
    assert "Zitat" not in second_page
    token = TEXT_TOKEN.search(second_page).group(1)
    url = reverse("tasks:submit-text", args=[task.pk])
    assert second.post(url, {"text": "Meins", "csrfmiddlewaretoken": token}).status_code == 302
    assert _textarea(_page(second, task)) == "\nMeins"


def test_the_kept_page_is_the_page_rendered_anew(world, make_task, client_for):
    task = make_task(expects=Task.Expects.BOTH)
    services.save_text(world.classmate_7a, task, "Entwurf")
    client = client_for(world.classmate_7a)
    tasks_tags._KEPT._rendered.clear()
    fresh = ANY_TOKEN.sub(r"\1", _page(client, task))
    kept = ANY_TOKEN.sub(r"\1", _page(client, task))
    assert kept == fresh and "Entwurf" in kept


def test_a_student_who_may_not_change_it_gets_no_form(world, make_task):
    task = make_task(expects=Task.Expects.TEXT)
    services.save_text(world.classmate_7a, task, "Fertig")
    services.hand_in(world.classmate_7a, task)

    assert "Text speichern" in _page(_client(world.student_7a), task)  # kept with the form
    handed_in = _page(_client(world.classmate_7a), task)
    assert "Text speichern" not in handed_in
    assert "Fertig" in handed_in


def test_a_changed_task_and_the_language_show_at_once(world, make_task):
    task = make_task(expects=Task.Expects.TEXT, max_file_mb=20)
    client = _client(world.student_7a)
    assert "Text speichern" in _page(client, task) and "solution-files" not in _page(client, task)

    task.expects = Task.Expects.FILES
    task.max_file_mb = 7
    task.due_at = timezone.now() + timedelta(days=40)
    task.description = "Neue *Beschreibung*"
    services.save_task(world.teacher_7a, task, [world.class_7a], [])
    page = _page(client, task)
    assert "Text speichern" not in page and "Höchstens 7 MB" in page
    assert "<em>Beschreibung</em>" in page
    assert timezone.localtime(task.due_at).strftime("%Y") in page

    client.cookies["django_language"] = "en"
    assert "At most 7 MB per file" in _page(client, task)


def test_without_a_submission_the_kept_part_is_the_page_rendered_anew(world, make_task):
    # Late submissions accepted: past the due date the state changes, the form stays.
    task = make_task(
        expects=Task.Expects.BOTH, accept_late=True, due_at=timezone.now() + timedelta(hours=1)
    )
    client = _client(world.student_7a)
    tasks_tags._KEPT._rendered.clear()
    fresh = ANY_TOKEN.sub(r"\1", _page(client, task))
    kept = ANY_TOKEN.sub(r"\1", _page(client, task))
    assert kept == fresh and "Du hast noch nichts abgegeben." in kept

    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(hours=2)):
        kept_late = ANY_TOKEN.sub(r"\1", _page(client, task))
        tasks_tags._KEPT._rendered.clear()
        fresh_late = ANY_TOKEN.sub(r"\1", _page(client, task))
    assert kept_late == fresh_late and "überfällig" in kept_late and "überfällig" not in kept


def test_a_kept_part_without_a_submission_is_not_a_classmates_with_one(world, make_task):
    task = make_task(expects=Task.Expects.TEXT)
    services.save_text(world.classmate_7a, task, "Fertig")
    services.hand_in(world.classmate_7a, task)
    without = _page(_client(world.student_7a), task)

    handed_in = _page(_client(world.classmate_7a), task)

    assert "Du hast noch nichts abgegeben." in without and 'id="receipt"' not in without
    assert 'id="receipt"' in handed_in and "Du hast noch nichts" not in handed_in
    assert "Du hast noch nichts abgegeben." in _page(_client(world.student_7a), task)


def _list(client) -> str:
    response = client.get(reverse("tasks:list"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_task_lists_kept_rows_are_each_students_and_show_a_change(world, make_task):
    task = make_task(expects=Task.Expects.TEXT, title="Gedichtanalyse")
    services.save_text(world.classmate_7a, task, "Fertig")
    services.hand_in(world.classmate_7a, task)
    student, classmate = _client(world.student_7a), _client(world.classmate_7a)
    tasks_tags._ROWS._rendered.clear()
    fresh = ANY_TOKEN.sub(r"\1", _list(student))

    assert ANY_TOKEN.sub(r"\1", _list(student)) == fresh  # the rows kept
    assert '<span class="badge">offen</span>' in fresh and "abgegeben" not in fresh
    assert '<span class="badge ok">abgegeben</span>' in _list(classmate)

    task.title = "Gedichtanalyse <Goethe>"
    services.save_task(world.teacher_7a, task, [world.class_7a], [])
    assert "Gedichtanalyse &lt;Goethe&gt;</a>" in _list(student)
    student.cookies["django_language"] = "en"
    assert '<span class="badge">open</span>' in _list(student)
