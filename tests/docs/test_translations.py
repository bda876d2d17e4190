"""Every translatable string in kreide/ has a German translation (German is the default UI
language). Strings are extracted the way `makemessages` does (xgettext with Django's keywords,
templates through Django's templatize) and looked up in all apps' django.po catalogues merged,
as Django merges them at runtime, plus Django's own core catalogue (it names the languages in
settings.LANGUAGES; contrib's is left out, its wording is not Kreide's: admin "Sichern").
Only live, non-empty, non-fuzzy entries count. An obsolete (`#~`) entry does not: that is how
one app's makemessages run silently drops a string that another app registered (the status
page's "Sign-in" label from kreide/accounts/apps.py)."""

import ast
import functools
import gettext
import subprocess
import tempfile
from pathlib import Path

import django
import pytest
from django.utils.translation import templatize

ROOT = Path(__file__).resolve().parents[2]
KREIDE = ROOT / "kreide"
TEMPLATE_SUFFIXES = (".html", ".txt")
# Strings whose German is the English word; each with its reason.
SAME_IN_GERMAN = {
    "Video": "the German word is Video",
}
# makemessages' own xgettext calls (Django 5.2): django for Python and templates, djangojs
# for the scripts (served by JavaScriptCatalog at /i18n/catalog.js).
KEYWORDS = [
    "gettext_noop",
    "gettext_lazy",
    "ngettext_lazy:1,2",
    "pgettext:1c,2",
    "npgettext:1c,2,3",
]
XGETTEXT = {
    "django": [
        "--language=Python",
        *(f"--keyword={k}" for k in [*KEYWORDS, "pgettext_lazy:1c,2", "npgettext_lazy:1c,2,3"]),
    ],
    "djangojs": ["--language=JavaScript", *(f"--keyword={k}" for k in KEYWORDS)],
}

Key = tuple[str | None, str]  # (msgctxt, msgid)


def parse_po(text: str) -> list[dict]:
    """The entries of a .po/.pot text: key fields, msgstr list, flags, references, obsolete."""
    entries: list[dict] = []
    entry: dict = {}
    field = None

    def finish() -> None:
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {}

    for raw in text.splitlines():
        obsolete = raw.startswith("#~")
        line = raw[2:].strip() if obsolete else raw.strip()
        if not line:
            finish()
            field = None
            continue
        if line.startswith(("#", "|")):
            if "msgid" in entry and not obsolete:
                finish()
            if line.startswith("#,"):
                entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
            elif line.startswith("#:"):
                entry.setdefault("refs", []).extend(line[2:].split())
            continue
        if line.startswith('"'):
            value = ast.literal_eval(line)
            if field.startswith("msgstr"):
                entry["msgstr"][-1] += value
            else:
                entry[field] += value
            continue
        field, _space, rest = line.partition(" ")
        if field == "msgctxt" and "msgid" in entry:
            finish()
        if field.startswith("msgstr"):
            entry.setdefault("msgstr", []).append(ast.literal_eval(rest))
        else:
            if field == "msgid" and "msgid" in entry:
                finish()
            entry[field] = ast.literal_eval(rest)
        entry["obsolete"] = obsolete
    finish()
    return entries


def key(entry: dict) -> Key:
    return (entry.get("msgctxt"), entry["msgid"])


@functools.cache
def extract(domain: str = "django") -> dict[Key, list[str]]:
    """Every translatable string of the domain in kreide/ with its file:line places."""
    if domain == "djangojs":
        files, templates = sorted(KREIDE.rglob("*.js")), []
    else:
        files = sorted(p for p in KREIDE.rglob("*.py") if "migrations" not in p.parts)
        templates = sorted(
            p for s in TEMPLATE_SUFFIXES for p in KREIDE.rglob(f"*{s}") if "templates" in p.parts
        )
    with tempfile.TemporaryDirectory() as tmp:
        sources = [str(p.relative_to(ROOT)) for p in files]
        for template in templates:
            rel = template.relative_to(ROOT)
            # templatize keeps the line numbers, so places map back one to one.
            target = Path(tmp) / f"{rel}.py"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(templatize(template.read_text(), origin=str(rel)))
            sources.append(str(target))
        listing = Path(tmp) / "files"
        listing.write_text("\n".join(sources) + "\n")
        pot = subprocess.run(
            [
                "xgettext",
                *XGETTEXT[domain],
                "--from-code=UTF-8",
                "--no-wrap",
                "--output=-",
                f"--files-from={listing}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        found: dict[Key, list[str]] = {}
        for entry in parse_po(pot):
            if entry["msgid"]:
                refs = [
                    r.replace(f"{tmp}/", "")
                    .replace(".html.py:", ".html:")
                    .replace(".txt.py:", ".txt:")
                    for r in entry.get("refs", [])
                ]
                found[key(entry)] = refs
    return found


def catalogues(domain: str = "django") -> dict[Path, list[dict]]:
    return {
        po: parse_po(po.read_text())
        for po in sorted(KREIDE.glob(f"**/locale/de/LC_MESSAGES/{domain}.po"))
    }


def django_core() -> set[Key]:
    with (Path(django.__file__).parent / "conf/locale/de/LC_MESSAGES/django.mo").open("rb") as mo:
        catalog = gettext.GNUTranslations(mo)._catalog
    return {
        (msgid.split("\x04")[0], msgid.split("\x04")[1]) if "\x04" in msgid else (None, msgid)
        for msgid, msgstr in catalog.items()
        if isinstance(msgid, str) and msgid and msgstr
    }


def translated(entry: dict) -> bool:
    return not entry["obsolete"] and "fuzzy" not in entry.get("flags", ()) and all(entry["msgstr"])


def place(path: str, needle: str) -> str:
    lines = (KREIDE / path).read_text().splitlines()
    return f"kreide/{path}:{next(n for n, text in enumerate(lines, 1) if needle in text)}"


def test_the_extraction_sees_python_templates_contexts_and_scripts():
    found = extract()
    assert place("accounts/apps.py", '_("Sign-in")') in found[None, "Sign-in"]
    # A template's place is its own file and line (templatize keeps the lines).
    template = place("accounts/templates/accounts/admin/base.html", '"Connected tools"')
    assert template in found[None, "Connected tools"]
    assert any(context for context, _msgid in found)
    places = [ref for refs in extract("djangojs").values() for ref in refs]
    assert any(ref.startswith("kreide/storage/static/storage/js/uploader.js:") for ref in places)


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_every_string_has_a_german_translation(domain: str):
    found = extract(domain)
    merged = {key(e) for entries in catalogues(domain).values() for e in entries if translated(e)}
    if domain == "django":
        merged |= django_core()
    obsolete = {
        key(e): po.relative_to(ROOT)
        for po, entries in catalogues(domain).items()
        for e in entries
        if e["obsolete"]
    }
    missing = []
    for (context, msgid), refs in sorted(found.items(), key=lambda item: item[1]):
        if (context, msgid) in merged or (context is None and msgid in SAME_IN_GERMAN):
            continue
        hint = (
            f" (only obsolete in {obsolete[context, msgid]})"
            if (context, msgid) in obsolete
            else ""
        )
        label = f"{context}|{msgid}" if context else msgid
        missing.append(f"{', '.join(refs)}: {label!r}{hint}")
    assert missing == [], "\n".join(["Strings without German translation:", *missing])


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_each_app_catalogue_holds_the_strings_its_app_uses(domain: str):
    """What makemessages keeps: then running it in any one app loses no string another app
    needs. A string only in another app's catalogue is German today and English after that
    app's next makemessages run."""
    live = {
        po.parts[-5]: {key(e) for e in entries if translated(e)}
        for po, entries in catalogues(domain).items()
    }
    missing = []
    for (context, msgid), refs in sorted(extract(domain).items(), key=lambda item: item[1]):
        for ref in refs:
            app = ref.split("/")[1]
            if app in live and (context, msgid) not in live[app] and msgid not in SAME_IN_GERMAN:
                missing.append(f"{ref}: {msgid!r} is not in kreide/{app}'s catalogue")
    assert missing == [], "\n".join(missing)


@pytest.mark.parametrize("domain", ["django", "djangojs"])
def test_no_two_catalogues_translate_one_string_differently(domain: str):
    """All apps' catalogues are merged at run time and one of them wins: a string that means
    two things (mail's "Reply" button, a letter's "Reply" column) needs a context."""
    seen: dict[Key, dict[tuple[str, ...], list[str]]] = {}
    for po, entries in catalogues(domain).items():
        for entry in entries:
            if translated(entry):
                app = po.parts[-5]
                seen.setdefault(key(entry), {}).setdefault(tuple(entry["msgstr"]), []).append(app)
    clashes = [
        f"{msgid!r} (context {context!r}): {translations}"
        for (context, msgid), translations in sorted(seen.items(), key=str)
        if len(translations) > 1 and msgid
    ]
    assert clashes == [], "\n".join(["Give these a context (pgettext):", *clashes])


def test_same_in_german_strings_are_still_used_and_not_in_a_catalogue():
    """The allow-list shrinks with the code: an entry nobody uses any more, or one a catalogue
    translates anyway, goes."""
    used = {msgid for _context, msgid in extract()}
    assert sorted(set(SAME_IN_GERMAN) - used) == []
    in_catalogues = {
        e["msgid"] for entries in catalogues().values() for e in entries if translated(e)
    }
    assert sorted(set(SAME_IN_GERMAN) & in_catalogues) == []


def test_the_check_sees_an_obsolete_entry_as_missing():
    entries = parse_po(
        '#: a.py:1\nmsgid "Sign-in"\nmsgstr "Anmeldung"\n\n'
        '#~ msgid "Sign-in"\n#~ msgstr "Anmeldung"\n\n'
        '#, fuzzy\nmsgctxt "x"\nmsgid "A"\nmsgstr "B"\n\nmsgid "one"\nmsgid_plural "many"\n'
        'msgstr[0] "eins"\nmsgstr[1] ""\n'
    )
    assert [(key(e), translated(e)) for e in entries] == [
        ((None, "Sign-in"), True),
        ((None, "Sign-in"), False),
        (("x", "A"), False),
        ((None, "one"), False),
    ]
