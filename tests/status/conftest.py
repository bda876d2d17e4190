import pytest


@pytest.fixture(autouse=True)
def _own_snapshot_file(settings, tmp_path):
    # The status snapshot file lives in DATA_DIR: one per test keeps tests independent.
    settings.DATA_DIR = tmp_path
