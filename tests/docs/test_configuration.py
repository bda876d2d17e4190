"""Settings live in one place: every KREIDE_* variable is read in kreide/settings.py
(through kreide/env.py) and nowhere else, and docs/configuration.md lists each of them."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ = re.compile(r'env_(?:str|int|bool|list)\(\s*"(KREIDE_[A-Z0-9_]+)"')


def test_every_variable_read_in_settings_is_documented():
    read = set(READ.findall((ROOT / "kreide" / "settings.py").read_text()))
    assert "KREIDE_JANUS_URLS" in read and "KREIDE_ADMISSION_IN_FLIGHT" in read
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert sorted(name for name in read if f"`{name}`" not in documented) == []


def test_no_module_but_settings_reads_the_environment():
    readers = []
    for path in (ROOT / "kreide").rglob("*.py"):
        if path.name in ("settings.py", "env.py") and path.parent.name == "kreide":
            continue
        text = path.read_text()
        if READ.search(text) or re.search(r"(environ\.get|getenv)\(\s*\"KREIDE_", text):
            readers.append(str(path.relative_to(ROOT)))
    assert readers == []
