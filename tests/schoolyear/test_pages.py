"""The school office's school-year pages: who may open them, what they save, and a bounded
number of queries whatever the number of classes."""

import re

import pytest
from django.urls import reverse

from kreide.accounts.models import User
from kreide.schoolyear.models import ClassException, Leaver, SchoolYear

pytestmark = pytest.mark.django_db

OFFICE_PAGES = ["schoolyear:school_year", "schoolyear:rollover", "schoolyear:sync"]


@pytest.mark.parametrize("who", ["teacher_7a", "student_7a", "parent"])
def test_only_school_admins_open_the_office_pages(year, client_for, who):
    client = client_for(getattr(year, who))
    for name in OFFICE_PAGES:
        assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("schoolyear:class_rule", args=[year.class_7a.pk])).status_code == 403


def test_another_schools_class_is_not_found(year, client_for):
    client = client_for(year.other_admin)
    assert client.get(reverse("schoolyear:class_rule", args=[year.class_7a.pk])).status_code == 404
    # Their own rollover page shows their school only.
    page = client.get(reverse("schoolyear:rollover")).content.decode()
    assert "No classes move." in page or "Keine Klasse wechselt." in page
    # Whole class names only: a random CSRF token or nonce may hold "7b" too.
    assert not re.search(r"(?<![\w+/=-])(7a|7b|8a|10a)(?![\w+/=-])", page)


def test_the_office_sets_the_year_an_exception_and_leavers(year, client_for):
    client = client_for(year.admin)
    response = client.post(
        reverse("schoolyear:school_year"),
        {
            "form": "year",
            "year-label": "2025/26",
            "year-starts_on": "2025-08-04",
            "year-ends_on": "2026-07-17",
        },
    )
    assert response.status_code == 302
    assert str(SchoolYear.objects.for_school(year.school).get(is_current=True).ends_on) == (
        "2026-07-17"
    )
    bad = client.post(
        reverse("schoolyear:school_year"),
        {
            "form": "year",
            "year-label": "2025/26",
            "year-starts_on": "2025-08-04",
            "year-ends_on": "2025-08-01",
        },
    )
    assert bad.status_code == 200 and "Der letzte Tag muss nach dem ersten liegen" in (
        bad.content.decode()
    )
    url = reverse("schoolyear:class_rule", args=[year.class_7a.pk])
    missing = client.post(url, {"action": "move", "target": ""})
    assert "Bitte die neue Klasse angeben" in missing.content.decode()
    client.post(url, {"action": "leave", "leaver": [str(year.student_7a.pk)]})
    assert ClassException.objects.for_school(year.school).get(group=year.class_7a).action == "leave"
    assert set(Leaver.objects.for_school(year.school).values_list("user_id", flat=True)) == {
        year.student_7a.pk
    }
    preview = client.get(reverse("schoolyear:rollover")).content.decode()
    assert "verlässt die Schule" in preview
    # Whom it affects, by name: 7a's students leave, 7b's move into 8a with their teacher.
    assert year.student_7a.get_full_name() in preview
    assert year.student_7b.get_full_name() in preview
    assert year.teacher_7b.get_full_name() in preview


def _more_classes(year, make_group, make_user, count: int) -> None:
    for number in range(count):
        group = make_group(
            year.school, f"{5 + number % 4}{'xyzw'[number // 4]}", grade=5 + number % 4
        )
        make_user(year.school, User.Role.TEACHER, groups=(group,))
        for _ in range(3):
            make_user(year.school, groups=(group,))


@pytest.mark.parametrize("name", OFFICE_PAGES)
def test_office_pages_cost_the_same_queries_for_many_classes(
    year, client_for, make_group, make_user, django_assert_max_num_queries, name
):
    client = client_for(year.admin)
    client.get(reverse(name))
    _more_classes(year, make_group, make_user, 12)
    with django_assert_max_num_queries(22):
        assert client.get(reverse(name)).status_code == 200
