"""Who posts to which audience, who reads what, scheduling, expiry, pinning and edits."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from kreide.core.models import AuditEntry
from kreide.news import services
from kreide.news.models import News
from kreide.news.services import NewsRefusal

from .conftest import later

pytestmark = pytest.mark.django_db

A = News.Audience


def _titles(user) -> list[str]:
    return list(services.visible(user).values_list("title", flat=True))


def test_each_audience_reaches_exactly_its_readers(family, post, make_group):
    post(family.admin, "Alle", A.SCHOOL)
    post(family.admin, "Kollegium", A.STAFF)
    post(family.teacher_7a, "Für 7a", A.GROUPS, [family.class_7a])
    post(family.teacher_7b, "Eltern 7b", A.PARENTS, [family.class_7b])
    post(family.other_admin, "Andere Schule", A.SCHOOL)
    expected = {
        "admin": {"Alle", "Kollegium", "Für 7a", "Eltern 7b"},
        "teacher_7a": {"Alle", "Kollegium", "Für 7a"},
        "teacher_7b": {"Alle", "Kollegium", "Eltern 7b"},
        "student_7a": {"Alle", "Für 7a"},
        "student_7b": {"Alle"},
        "parent": {"Alle", "Eltern 7b"},  # the sibling is in 7b
        "second_parent": {"Alle"},  # only 7a's child
        "other_student": {"Andere Schule"},
        "other_admin": {"Andere Schule"},
    }
    for who, titles in expected.items():
        assert set(_titles(getattr(family, who))) == titles, who
    # The people notified are the same, but for teachers reading the letters home.
    for news in News.objects.for_school(family.school):
        readers = services.reader_ids(news)
        for who, titles in expected.items():
            user = getattr(family, who)
            if user.school_id != family.school.pk or user.is_school_admin:
                continue
            if news.audience == A.PARENTS and user.is_teacher:
                assert user.pk not in readers
            else:
                assert (user.pk in readers) == (news.title in titles), (who, news.title)


def test_a_deactivated_class_or_account_reads_nothing_of_its_groups(family, post, deactivate):
    post(family.teacher_7a, "Für 7a", A.GROUPS, [family.class_7a])
    post(family.teacher_7a, "Eltern 7a", A.PARENTS, [family.class_7a])
    assert "Für 7a" in _titles(family.student_7a)
    assert "Eltern 7a" in _titles(family.second_parent)
    deactivate(family.class_7a)
    assert _titles(family.student_7a) == []
    assert _titles(family.second_parent) == []
    assert "Für 7a" not in _titles(family.teacher_7b)
    family.student_7b.is_active = False
    family.student_7b.save()
    assert _titles(family.student_7b) == []


def test_teachers_post_only_to_groups_they_teach_admins_everywhere(family, post):
    for audience in (A.SCHOOL, A.STAFF):
        with pytest.raises(PermissionDenied):
            post(family.teacher_7a, "x", audience)
    with pytest.raises(PermissionDenied):
        post(family.teacher_7a, "x", A.GROUPS, [family.class_7b])
    with pytest.raises(PermissionDenied):
        post(family.teacher_7a, "x", A.PARENTS, [family.other_class])
    for who in ("student_7a", "parent", "other_admin"):
        with pytest.raises(PermissionDenied):
            post(getattr(family, who), "x", A.GROUPS, [family.class_7a])
    with pytest.raises(NewsRefusal):
        post(family.admin, "x", A.GROUPS, [])
    post(family.admin, "Eltern 7b", A.PARENTS, [family.class_7b])
    assert not News.objects.for_school(family.school).exclude(title="Eltern 7b").exists()
    entry = AuditEntry.objects.for_school(family.school).get(action="news.posted")
    assert entry.actor == family.admin


def test_scheduled_news_appears_when_due_and_expired_news_goes(family, post):
    post(family.admin, "Später", published_at=later(2))
    post(family.admin, "Bald vorbei", expires_at=later(1))
    assert _titles(family.student_7a) == ["Bald vorbei"]
    assert set(_titles(family.admin)) == {"Später", "Bald vorbei"}  # the author's own
    in_three_hours = timezone.now() + timedelta(hours=3)
    assert list(
        services.visible(family.student_7a, now=in_three_hours).values_list("title", flat=True)
    ) == ["Später"]
    # The school office sees a teacher's scheduled news too; nobody else does.
    post(family.teacher_7a, "Für 7a später", "groups", [family.class_7a], published_at=later())
    assert "Für 7a später" in _titles(family.admin)
    assert "Für 7a später" not in _titles(family.student_7a)
    assert "Für 7a später" in _titles(family.teacher_7a)
    with pytest.raises(NewsRefusal):
        post(family.admin, "Verkehrt", published_at=later(3), expires_at=later(1))


def test_pinned_first_and_edits_show_as_edited(family, post):
    first = post(family.admin, "Angeheftet", pinned=True)
    post(family.admin, "Neuer")
    assert _titles(family.student_7a) == ["Angeheftet", "Neuer"]
    assert first.edited_at is None
    services.edit(family.admin, first, services.Draft(title="Angeheftet (neu)", pinned=True))
    first.refresh_from_db()
    assert first.edited_at is not None and first.title == "Angeheftet (neu)"
    # A scheduled news edited before it is published is no edit readers need to know of.
    scheduled = post(family.admin, "Geplant", published_at=later())
    services.edit(family.admin, scheduled, services.Draft(title="Geplant!", published_at=later()))
    scheduled.refresh_from_db()
    assert scheduled.edited_at is None
    with pytest.raises(PermissionDenied):
        services.edit(family.teacher_7a, first, services.Draft(title="meins"))
    with pytest.raises(PermissionDenied):
        services.delete(family.teacher_7a, first)
    services.delete(family.admin, first)
    assert _titles(family.student_7a) == ["Neuer"]


def test_only_letters_to_parents_ask_for_a_confirmation(family, post):
    plain = post(family.admin, "Alle", A.SCHOOL, needs_confirmation=True, reply_choices="Ja")
    assert not plain.needs_confirmation and plain.reply_choices == "" and not plain.is_letter
