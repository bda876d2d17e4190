"""News and letters notify their readers through the notification centre: once, when the
news is due (at posting, or by `kreide news-announce` for scheduled news)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from kreide.accounts.models import User
from kreide.news import services
from kreide.news.models import News
from kreide.notifications.models import Notification
from kreide.parents.models import ParentLink

pytestmark = pytest.mark.django_db(transaction=True)  # events are delivered after commit


def _kinds(user) -> list[tuple[str, str]]:
    return list(
        Notification.objects.for_school(user.school_id)
        .filter(user=user)
        .values_list("kind", "text")
    )


def test_news_notifies_its_readers_once_and_not_the_author(family, post):
    post(family.teacher_7a, "Theaterbesuch", News.Audience.GROUPS, [family.class_7a])
    for reader in (family.student_7a, family.classmate_7a):
        assert _kinds(reader) == [("news", "Neue Nachricht: Theaterbesuch")]
    for outsider in (family.teacher_7a, family.student_7b, family.parent, family.other_student):
        assert _kinds(outsider) == []


def test_scheduled_news_is_announced_when_due(family, post, capsys):
    news = post(family.admin, "Hitzefrei", published_at=timezone.now() + timedelta(hours=1))
    assert _kinds(family.student_7a) == []
    call_command("news_announce", "--once")
    assert _kinds(family.student_7a) == []
    News.objects.for_school(family.school).filter(pk=news.pk).update(
        published_at=timezone.now() - timedelta(minutes=1)
    )
    call_command("news_announce", "--once")
    assert "1 news announced" in capsys.readouterr().out
    call_command("news_announce", "--once")  # only once
    assert _kinds(family.student_7a) == [("news", "Neue Nachricht: Hitzefrei")]
    assert _kinds(family.parent) == [("news", "Neue Nachricht: Hitzefrei")]  # parents too


def test_a_letter_and_its_reminder_reach_exactly_the_parents_concerned(family, letter, make_user):
    text = "Elternbrief, bitte bestätigen: Wandertag"
    for parent in (family.parent, family.second_parent):
        assert _kinds(parent) == [("letter", text)]
    classmate_parent = make_user(family.school, User.Role.PARENT)
    ParentLink.unscoped.create(
        school=family.school, parent=classmate_parent, child=family.classmate_7a
    )
    services.confirm(family.second_parent, letter, family.student_7a, "Ja")
    assert services.remind(family.teacher_7a, letter) == 1
    reminder = ("letter_reminder", "Erinnerung: Bitte bestätigen Sie den Elternbrief „Wandertag“.")
    assert _kinds(classmate_parent) == [reminder]
    assert reminder not in _kinds(family.parent) and reminder not in _kinds(family.second_parent)
    for nobody in (family.student_7a, family.teacher_7b, family.other_admin):
        assert _kinds(nobody) == []
