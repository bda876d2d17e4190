from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kreide.tasks import services

pytestmark = pytest.mark.django_db


def test_dashboard_shows_due_soon_new_tasks_and_new_feedback(world, make_task, client_for):
    soon = make_task(title="Gedichtanalyse Erlkönig", due_at=timezone.now() + timedelta(days=1))
    make_task(title="Kartenarbeit Alpen", due_at=timezone.now() + timedelta(days=10))
    reviewed = make_task(title="Vokabeln Unit 4", expects="text")
    services.save_text(world.student_7a, reviewed, "fertig")
    submission = services.hand_in(world.student_7a, reviewed)
    services.review(world.teacher_7a, submission, "Prima!")
    client = client_for(world.student_7a)
    page = client.get(reverse("dashboard:home")).content.decode()
    assert "Bald fällig" in page and soon.title in page
    assert "Neue Aufgaben" in page and "Kartenarbeit Alpen" in page
    assert "Neue Rückmeldungen" in page and "Vokabeln Unit 4" in page
    # Opening the task marks the feedback as seen.
    client.get(reverse("tasks:detail", args=[reviewed.pk]))
    assert "Neue Rückmeldungen" not in client.get(reverse("dashboard:home")).content.decode()
    teacher_page = client_for(world.teacher_7a).get(reverse("dashboard:home")).content.decode()
    assert "Gedichtanalyse Erlkönig" in teacher_page and "1 Abgabe" in teacher_page
    nav = client.get(reverse("tasks:list")).content.decode()
    assert 'href="/tasks/"' in nav and "Aufgaben" in nav
