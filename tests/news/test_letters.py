"""Parent letters: a parent confirms once per child (either parent counts), the author
sees who confirmed and who has not, reminds the rest and downloads the list."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from kreide.core.models import AuditEntry
from kreide.news import services
from kreide.news.models import Receipt
from kreide.news.services import NewsRefusal

from .conftest import later

pytestmark = pytest.mark.django_db


def _rows(letter) -> dict[str, tuple]:
    return {
        row.child.username: (
            [p.username for p in row.parents],
            row.receipt.parent.username if row.receipt else None,
            row.receipt.choice if row.receipt else None,
        )
        for row in services.letter_children(letter)
    }


def test_one_confirmation_per_child_either_parent_counts(family, letter):
    assert [kid for kid, _r in services.children_to_confirm(family.parent, letter)] == [
        family.student_7a  # not the sibling in 7b
    ]
    with pytest.raises(NewsRefusal):  # the letter asks for an answer
        services.confirm(family.second_parent, letter, family.student_7a, "Vielleicht")
    services.confirm(family.second_parent, letter, family.student_7a, "Ja")
    with pytest.raises(NewsRefusal) as already:
        services.confirm(family.parent, letter, family.student_7a, "Nein")
    assert already.value.status == 409
    receipt = Receipt.objects.for_school(family.school).get()
    assert (receipt.parent, receipt.child, receipt.choice) == (
        family.second_parent,
        family.student_7a,
        "Ja",
    )
    # The first parent sees who confirmed.
    assert services.children_to_confirm(family.parent, letter) == [(family.student_7a, receipt)]
    rows = _rows(letter)
    parents = sorted([family.parent.username, family.second_parent.username])
    assert sorted(rows[family.student_7a.username][0]) == parents
    assert rows[family.student_7a.username][1:] == (family.second_parent.username, "Ja")
    assert rows[family.classmate_7a.username] == ([], None, None)  # no parent account
    assert family.sibling_7b.username not in rows
    assert AuditEntry.objects.for_school(family.school).filter(action="letter.confirmed").count()


def test_nobody_confirms_for_a_child_not_theirs(family, letter, make_user):
    for who, child in (
        ("parent", family.classmate_7a),
        ("parent", family.sibling_7b),  # theirs, but not in 7a
        ("teacher_7a", family.student_7a),
        ("student_7a", family.student_7a),
    ):
        with pytest.raises(PermissionDenied):
            services.confirm(getattr(family, who), letter, child, "Ja")
    assert not Receipt.objects.for_school(family.school).exists()


def test_a_scheduled_letter_cannot_be_confirmed_yet(family, post):
    scheduled = post(
        family.teacher_7a,
        "Später",
        "parents",
        [family.class_7a],
        needs_confirmation=True,
        published_at=later(),
    )
    with pytest.raises(PermissionDenied):
        services.confirm(family.parent, scheduled, family.student_7a)


def test_reminder_reaches_the_parents_of_children_without_a_receipt(
    family, letter, make_user, django_capture_on_commit_callbacks
):
    from kreide.accounts.models import User
    from kreide.parents.models import ParentLink

    classmate_parent = make_user(family.school, User.Role.PARENT)
    ParentLink.unscoped.create(
        school=family.school, parent=classmate_parent, child=family.classmate_7a
    )
    services.confirm(family.parent, letter, family.student_7a, "Nein")
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.remind(family.teacher_7a, letter) == 1
    assert [c.__qualname__ for c in callbacks].count("Event.publish.<locals>.deliver") == 1
    # Once an hour: a double click or an impatient author does not flood the parents.
    with pytest.raises(NewsRefusal) as again:
        services.remind(family.teacher_7a, letter)
    assert again.value.status == 429
    letter.refresh_from_db()
    letter.reminded_at -= timedelta(hours=1, seconds=1)
    letter.save()
    assert services.remind(family.teacher_7a, letter) == 1
    with pytest.raises(PermissionDenied):
        services.remind(family.teacher_7b, letter)
    with pytest.raises(PermissionDenied):
        services.remind(family.parent, letter)
    assert AuditEntry.objects.for_school(family.school).filter(action="letter.reminded").count()


def test_confirmation_page_and_csv(family, letter, client_for, django_assert_max_num_queries):
    services.confirm(family.parent, letter, family.student_7a, "Ja")
    teacher = client_for(family.teacher_7a)
    url = reverse("news:receipts", args=[letter.pk])
    teacher.get(url)
    with django_assert_max_num_queries(12):
        page = teacher.get(url).content.decode()
    assert "1 bestätigt" in page and "1 fehlt" in page
    assert family.parent.get_full_name() in page
    assert family.classmate_7a.last_name in page and "kein Elternkonto" in page
    response = teacher.get(reverse("news:receipts_csv", args=[letter.pk]))
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:3] == ["Klasse oder Gruppe", "Nachname", "Vorname"]
    by_name = {row[1]: row for row in rows[1:]}
    assert by_name[family.student_7a.last_name][5] == family.parent.get_full_name()
    assert by_name[family.student_7a.last_name][6] == "Ja"
    assert by_name[family.classmate_7a.last_name][4:] == ["", "", ""]
    # Nobody else sees the list.
    for who in ("teacher_7b", "parent", "student_7a", "other_admin"):
        client = client_for(getattr(family, who))
        assert client.get(url).status_code in (403, 404), who
        assert client.get(url + "../receipts.csv").status_code in (403, 404), who
    assert client_for(family.admin).get(url).status_code == 200


def test_reminding_twice_within_the_hour_says_when_it_is_possible(
    family, letter, client_for, make_user
):
    from kreide.accounts.models import User
    from kreide.parents.models import ParentLink

    ParentLink.unscoped.create(
        school=family.school,
        parent=make_user(family.school, User.Role.PARENT),
        child=family.classmate_7a,
    )
    teacher = client_for(family.teacher_7a)
    url = reverse("news:remind", args=[letter.pk])
    first = teacher.post(url, follow=True).content.decode()
    assert "3 Eltern, die noch nicht bestätigt haben, wurden erinnert." in first
    assert "Letzte Erinnerung:" in first
    second = teacher.post(url, follow=True).content.decode()
    assert "die nächste Erinnerung ist eine Stunde später möglich" in second
    reminded = AuditEntry.objects.for_school(family.school).filter(action="letter.reminded")
    assert reminded.count() == 1


def test_a_name_never_becomes_a_spreadsheet_formula(family, letter):
    family.student_7a.last_name = "=HYPERLINK(1)"
    family.student_7a.save()
    text = services.receipts_csv(letter, services.letter_children(letter))
    assert "'=HYPERLINK(1)" in text
