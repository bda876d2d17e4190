"""The school office's settings page, and parents seeing task contents where it is on."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kreide.accounts.models import User
from kreide.core.models import AuditEntry
from kreide.tasks import services as tasks
from kreide.tasks.models import Task

pytestmark = pytest.mark.django_db


def test_only_the_schools_admins_change_its_settings(family, client_for):
    url = reverse("accounts:settings")
    for who in ("teacher_7a", "student_7a", "parent"):
        assert client_for(getattr(family, who)).post(url, {}).status_code == 403
    family.school.refresh_from_db()
    assert family.school.student_direct_messages and family.school.public_links_allowed
    admin = client_for(family.admin)
    page = admin.get(url).content.decode()
    assert "Eltern sehen die Inhalte der Aufgaben ihrer Kinder" in page
    response = admin.post(
        url,
        {
            "student_direct_messages": "on",
            "parents_see_task_contents": "on",
            "parents_message_teachers": "on",
        },
    )
    assert response.status_code == 302
    family.school.refresh_from_db()
    assert family.school.parents_see_task_contents and not family.school.public_links_allowed
    entry = AuditEntry.objects.for_school(family.school).get(action="school.settings_changed")
    assert entry.details["changes"] == {
        "public_links_allowed": False,
        "parents_see_task_contents": True,
    }
    family.other_school.refresh_from_db()
    assert not family.other_school.parents_see_task_contents


def test_parents_see_the_tasks_text_only_where_the_school_allows_it(family, client_for, make_user):
    tasks.save_task(
        family.teacher_7a,
        Task(
            title="Bruchrechnung",
            description="Rechne **Seite 12**",
            starts_at=timezone.now() - timedelta(hours=1),
            due_at=timezone.now() + timedelta(days=2),
        ),
        [family.class_7a],
        [],
    )
    url = reverse("parents:child", args=[family.student_7a.pk])
    parent = client_for(family.parent)
    page = parent.get(url).content.decode()
    assert "Bruchrechnung" in page and "Seite 12" not in page
    family.school.parents_see_task_contents = True
    family.school.save()
    page = client_for(family.parent).get(url).content.decode()
    assert "<strong>Seite 12</strong>" in page


def test_the_school_decides_whether_parents_write_to_class_teachers(family, client_for):
    from kreide.messenger import services as messenger

    # The default: parents write to their children's class teachers.
    assert family.school.parents_message_teachers
    assert messenger.can_message_directly(family.parent, family.teacher_7a)
    # A teacher starts a conversation with a parent while it is on.
    started = messenger.open_direct(family.teacher_7a, family.parent)
    messenger.send_message(family.teacher_7a, started.pk, "Bitte melden Sie sich", "teacher-0001")
    page = client_for(family.admin).get(reverse("accounts:settings")).content.decode()
    assert "Eltern dürfen den Lehrkräften der Klassen ihrer Kinder im Messenger schreiben" in page
    response = client_for(family.admin).post(
        reverse("accounts:settings"),
        {"student_direct_messages": "on", "public_links_allowed": "on"},
    )
    assert response.status_code == 302
    family.school.refresh_from_db()
    assert not family.school.parents_message_teachers
    entry = AuditEntry.objects.for_school(family.school).get(action="school.settings_changed")
    assert entry.details["changes"] == {"parents_message_teachers": False}

    parent = User.objects.get(pk=family.parent.pk)  # a fresh account, as on the next request
    assert not messenger.can_message_directly(parent, family.teacher_7a)
    assert not messenger.can_message_directly(parent, family.teacher_7b)
    assert messenger.can_message_directly(parent, family.admin)  # the office stays
    assert set(messenger.direct_candidates(parent, "")) == {family.admin}
    with pytest.raises(messenger.MessengerError):
        messenger.open_direct(parent, family.teacher_7b)
    opened = client_for(parent).post(reverse("messenger:direct_open", args=[family.teacher_7b.pk]))
    assert opened.status_code == 302 and opened["Location"] == reverse("messenger:index")
    # Teachers still write to parents, and the parent answers there.
    assert messenger.can_message_directly(family.teacher_7a, parent)
    answer = messenger.send_message(parent, started.pk, "Gern, morgen um 8", "parent-0001")
    assert answer.message["text"] == "Gern, morgen um 8"
    # Another school's setting is its own.
    family.other_school.refresh_from_db()
    assert family.other_school.parents_message_teachers
