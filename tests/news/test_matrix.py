"""The permission matrix of a parent letter's pages: every role incl. parents, another
class, a deactivated class, a deactivated account and another school."""

import pytest
from django.urls import reverse

from kreide.accounts.models import User
from kreide.news import services
from kreide.news.models import News, Receipt
from kreide.storage.blobstore import store_bytes

pytestmark = pytest.mark.django_db

PAGES = ("list", "detail", "file", "edit", "delete", "receipts", "csv")
ALL = dict.fromkeys(PAGES[1:], 403)
READS = {**ALL, "detail": 200, "file": 200}
MANAGES = dict.fromkeys(PAGES[1:], 200)
# viewer -> page -> status (the list is 200 for everyone signed in; the letter is in it
# exactly where "detail" is 200).
MATRIX = {
    "teacher_7a": MANAGES,  # the author
    "admin": MANAGES,
    "parent": READS,
    "second_parent": READS,
    "teacher_7b": ALL,  # another class
    "student_7a": ALL,  # letters go to parents
    "parent_of_7b": ALL,  # another class's parent
    "colleague_of_deactivated_class": ALL,
    "parent_in_deactivated_class": ALL,
    "other_admin": dict.fromkeys(PAGES[1:], 404),
    "other_parent": dict.fromkeys(PAGES[1:], 404),
}


@pytest.fixture
def scene(family, letter, make_user, deactivate):
    attachment = services.add_attachment(
        family.teacher_7a, letter, store_bytes(b"%PDF brief"), "Brief.pdf"
    )
    family.parent_of_7b = make_user(family.school, User.Role.PARENT)
    family.parent_of_7b.child_links.create(school=family.school, child=family.student_7b)
    family.other_parent = make_user(family.other_school, User.Role.PARENT)
    family.other_parent.child_links.create(school=family.other_school, child=family.other_student)
    return letter, attachment


def _urls(letter, attachment) -> dict[str, str]:
    pk = letter.pk
    return {
        "list": reverse("news:index"),
        "detail": reverse("news:detail", args=[pk]),
        "file": reverse("news:attachment", args=[pk, attachment.pk]),
        "edit": reverse("news:edit", args=[pk]),
        "delete": reverse("news:delete", args=[pk]),
        "receipts": reverse("news:receipts", args=[pk]),
        "csv": reverse("news:receipts_csv", args=[pk]),
    }


@pytest.mark.parametrize("viewer", sorted(MATRIX))
def test_permission_matrix(family, scene, client_for, make_user, deactivate, viewer):
    letter, attachment = scene
    if viewer.endswith("deactivated_class"):
        colleague = make_user(family.school, User.Role.TEACHER, groups=(family.class_7a,))
        deactivate(family.class_7a)
        user = colleague if viewer.startswith("colleague") else family.second_parent
    else:
        user = getattr(family, viewer)
    client = client_for(user)
    urls = _urls(letter, attachment)
    found = {name: client.get(url).status_code for name, url in urls.items()}
    assert found == {"list": 200, **MATRIX[viewer]}
    listed = client.get(urls["list"]).content.decode()
    assert (letter.title in listed) == (MATRIX[viewer]["detail"] == 200)
    # Writes: only those who manage it change anything.
    posts = [
        reverse("news:remind", args=[letter.pk]),
        reverse("news:attachment_delete", args=[letter.pk, attachment.pk]),
        reverse("news:confirm", args=[letter.pk]),
    ]
    if MATRIX[viewer]["edit"] != 200:
        for url in posts[:2] + [urls["edit"], urls["delete"]]:
            assert client.post(url, {"title": "x", "audience": "school"}).status_code in (
                403,
                404,
            )
        assert News.objects.for_school(family.school).filter(title=letter.title).exists()
        assert letter.attachments.count() == 1
    if user.role != User.Role.PARENT or MATRIX[viewer]["detail"] != 200:
        for child in (family.student_7a, family.classmate_7a, family.student_7b):
            response = client.post(posts[2], {"child": child.pk, "choice": "Ja"})
            assert response.status_code in (403, 404)
        assert not Receipt.objects.for_school(family.school).exists()


def test_a_deactivated_account_gets_nothing(family, scene, client_for):
    letter, attachment = scene
    client = client_for(family.second_parent)
    family.second_parent.is_active = False
    family.second_parent.save()
    for url in _urls(letter, attachment).values():
        assert client.get(url).status_code in (302, 403)
