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


INT_DEFAULT = re.compile(r'env_int\(\s*"(KREIDE_[A-Z0-9_]+)",\s*(-?[0-9_]+)\s*\)')


def test_documented_number_defaults_are_the_ones_settings_use():
    """A row that gives one value per variable (`2`, `0`) gives the default settings.py
    really uses; a default described in words (computed from others) is not compared."""
    defaults = {
        name: value.replace("_", "")
        for name, value in INT_DEFAULT.findall((ROOT / "kreide" / "settings.py").read_text())
    }
    assert defaults["KREIDE_THREADS"] == "0"
    wrong = []
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        if not line.startswith("| `KREIDE_"):
            continue
        names_cell, default_cell = (cell.strip() for cell in line.strip("|").split("|")[:2])
        names = re.findall(r"`(KREIDE_[A-Z0-9_]+)`", names_cell)
        values = re.findall(r"`([^`]*)`", default_cell)
        if len(values) != len(names):
            continue
        wrong += [
            f"{name}: documented {value}, settings {defaults[name]}"
            for name, value in zip(names, values, strict=True)
            if name in defaults and value != defaults[name]
        ]
    assert wrong == []
