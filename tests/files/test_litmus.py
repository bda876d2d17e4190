"""The litmus WebDAV compliance suite against a real Kreide server (no `-k`: litmus exits
non-zero on any failed test)."""

import os
import shutil
import subprocess

import pytest

from kreide.files import services

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("group", ["basic", "copymove", "props", "locks"])
def test_litmus(group, live_server, make_user, school, tmp_path):
    litmus = shutil.which("litmus")
    assert litmus, "litmus is missing: scripts/system-packages.sh installs it"
    user = make_user(school, username=f"litmus-{group}")
    services.personal_space(user)
    from tests.conftest import PASSWORD

    result = subprocess.run(
        [litmus, f"{live_server.url}/dav/{user.username}/", user.username, PASSWORD],
        env={**os.environ, "TESTS": group, "HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 failed" in result.stdout
