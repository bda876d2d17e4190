"""The new-task form in a browser: the name of the class list is no checkbox."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clicking_the_class_list_name_ticks_no_class(page, sign_in, world):
    sign_in(page, world.teacher_7a.username)
    page.goto("/tasks/new/")
    page.get_by_text("Klassen und Gruppen", exact=True).click()
    assert not page.get_by_label("7a").is_checked()
    page.get_by_label("7a").check()
    assert page.get_by_label("7a").is_checked()
