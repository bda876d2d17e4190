"""The date and time pickers keep their value in both languages (a browser shows it)."""

import pytest
from django.utils import timezone

from kreide.schedule.models import StartWindow

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("language", ["de", "en"])
def test_start_time_saves_with_the_proposed_day(page, sign_in, world, language):
    sign_in(page, world.admin.username)
    page.goto("/schedule/")
    if language == "en":
        page.get_by_role("button", name="English").click()
        page.wait_for_url("**/schedule/")
    day = page.locator("#id_day")
    # The browser shows the proposed day: the value is in the form a date input accepts.
    assert day.input_value() == timezone.localdate().isoformat()
    page.locator("#id_starts_at").fill("08:05")
    page.locator("#id_group").select_option(label="7a")
    page.locator("form:has(#id_day) button[type=submit]").click()
    page.wait_for_load_state()
    assert (
        StartWindow.objects.for_school(world.school)
        .filter(day=timezone.localdate(), group=world.class_7a)
        .exists()
    )
