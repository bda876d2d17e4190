"""Safe file names: what a user typed, made harmless on every platform, meaning kept."""

import unicodedata

_WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
_FORBIDDEN = set('<>:"/\\|?*')
MAX_NAME_BYTES = 200


def safe_filename(name: str, fallback: str = "Datei") -> str:
    """Strip paths, control characters and Windows-reserved forms; keep umlauts; cap length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]
    name = "".join(
        "_" if ch in _FORBIDDEN or unicodedata.category(ch)[0] == "C" else ch for ch in name
    )
    name = name.strip().strip(".").strip()
    if not name:
        name = fallback
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if stem.upper() in _WINDOWS_RESERVED:
        stem = f"_{stem}"
    extension = extension[:20]
    suffix = f".{extension}" if extension else ""
    while len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return (stem + suffix) if stem else f"{fallback}{suffix}"
