"""The school office runs the rollover's dry run in a browser and sees the preview."""

from datetime import date

import pytest

from kreide.schools.models import Group
from kreide.schoolyear.models import RolloverRule, SchoolYear

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_office_dry_run_shows_the_preview_then_rolls_over(
    page, sign_in, world, make_group, make_user, axe
):
    SchoolYear.objects.for_school(world.school).create(
        label="2025/26", starts_on=date(2025, 8, 1), ends_on=date(2026, 7, 31), is_current=True
    )
    RolloverRule.objects.for_school(world.school).create(final_grade=10)
    graduates = make_group(world.school, "10a", grade=10)
    make_user(world.school, groups=(graduates,), first_name="Greta", last_name="Abschluss")
    sign_in(page, world.admin.username)
    page.wait_for_url("**/")
    page.get_by_role("link", name="Schulverwaltung").click()
    page.get_by_role("link", name="Schuljahr", exact=True).click()
    assert page.get_by_role("heading", name="Schuljahr 2025/26").is_visible()
    axe(page)
    page.get_by_role("link", name="Schuljahreswechsel: Probelauf").click()
    assert (
        page.get_by_role("heading", level=1)
        .inner_text()
        .startswith("Schuljahreswechsel von 2025/26 nach 2026/27")
    )
    moves = page.locator("#rollover-moves")
    assert moves.get_by_role("row").filter(has_text="7a").filter(has_text="8a").is_visible()
    assert moves.get_by_role("row").filter(has_text="10a").filter(has_text="Abschluss").is_visible()
    assert page.get_by_role("listitem").filter(has_text="Greta Abschluss").is_visible()
    moves.get_by_role("row").filter(has_text="10a").locator("summary").click()
    assert moves.get_by_text("Greta Abschluss").is_visible()
    assert page.get_by_text("Noch ist nichts geändert").is_visible()
    axe(page)
    # The dry run changed nothing; the confirmation runs exactly that plan.
    assert Group.objects.for_school(world.school).get(pk=world.class_7a.pk).name == "7a"
    page.get_by_role("button", name="Schuljahr 2026/27 jetzt beginnen").click()
    page.wait_for_url("**/accounts/admin/school-year/")
    assert page.get_by_role("heading", name="Schuljahr 2026/27").is_visible()
    assert Group.objects.for_school(world.school).get(pk=world.class_7a.pk).name == "7a (2025/26)"
