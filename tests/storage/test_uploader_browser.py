"""The upload widget in a browser: a busy answer to the upload's creation is retried no
sooner than its Retry-After, and the file arrives."""

import time

import pytest
from playwright.sync_api import expect

from kreide.files import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_busy_answer_is_retried_after_retry_after(page, sign_in, make_user, school, tmp_path):
    user = make_user(school)
    root = services.root_of(services.personal_space(user))
    chosen = tmp_path / "Referat.txt"
    chosen.write_text("Gliederung")
    creations: list[float] = []

    def busy_once(route, request):
        if request.method != "POST":
            route.continue_()
            return
        creations.append(time.monotonic())
        if len(creations) == 1:  # as nginx or Kreide answer when they are full
            route.fulfill(status=503, headers={"Retry-After": "3"}, body="busy")
        else:
            route.continue_()

    sign_in(page, user.username)
    page.goto(f"/files/folder/{root.pk}/")
    page.route("**/uploads/", busy_once)
    page.get_by_label("Dateien hochladen").set_input_files(chosen)

    expect(page.get_by_role("link", name="Referat.txt")).to_be_visible(timeout=20_000)
    assert len(creations) == 2
    # tus-js-client's own first delay is at most 1.25 s here; the server asked for 3.
    assert creations[1] - creations[0] >= 3
    assert services.child(root, "Referat.txt").blob.size == len("Gliederung")
