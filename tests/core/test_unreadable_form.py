"""A form body nobody can read is a 400 with a message, wherever it is sent."""

import pytest
from django.test import Client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/no/such/page/", "/no/such/page", "/accounts/login/", "/uploads/", "/"]
)
def test_a_multipart_post_without_boundary_is_a_400_everywhere(client, path):
    strict = Client(enforce_csrf_checks=True)
    for sender in (client, strict):
        answer = sender.generic("POST", path, b"--x\r\n", content_type="multipart/form-data")
        assert answer.status_code == 400
        assert answer.content.decode().startswith("Das Formular konnte nicht gelesen werden.")
