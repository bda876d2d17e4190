"""Which module may import which: the layers of docs/architecture.md, enforced.

A module imports from its own app, from lower layers, and from the registries every layer
registers into. Imports between apps of the same layer are the exceptions listed below,
each with its reason; a new one fails here until it is either avoided or listed.
"""

import ast
from pathlib import Path

import kreide

ROOT = Path(kreide.__file__).parent

LAYERS = [
    {"env"},
    {"settings"},
    {"core"},
    {"storage", "schools", "accounts", "api"},
    {
        "tasks",
        "files",
        "messenger",
        "video",
        "mail",
        "schedule",
        "timetable",
        "oidc",
        "parents",
        "news",
    },
    {
        "dashboard",
        "status",
        "transfer",
        "notifications",
        "schoolyear",
        "privacy",
        "urls",
        "asgi",
        "wsgi",
        "cli",
    },
]
# Hooks lower layers register into (dashboard sections, export coverage, API routes).
REGISTRIES = {"kreide.dashboard.registry", "kreide.transfer.registry", "kreide.api.registry"}
# Within a layer only these; schools and accounts share their models (User <-> School).
SIDEWAYS = {
    ("accounts", "schools"): "accounts build on groups, memberships and the access layer",
    ("schools", "accounts.models"): "the User model, which points at School",
    ("schools", "accounts.gate"): "a graduate's read-only sign-in reads their archives",
    ("api", "schools"): "API calls are allowed by the access layer",
    ("storage", "api.auth"): "scripts upload with their API token, as the API signs them in",
    ("tasks", "messenger"): "a reminder goes out as a direct message",
    ("mail", "files"): "mail clients sign in with the same app passwords as WebDAV",
    ("timetable", "files"): "CalDAV clients sign in like WebDAV clients",
    ("timetable", "video"): "the timetable links a lesson's video lesson",
    ("schedule", "timetable"): "the day starts with the first lesson of the timetable",
    ("video", "schedule"): "students join no earlier than their class's day starts",
    ("parents", "tasks"): "a parent sees a child's tasks and their hand-in state",
    ("parents", "timetable"): "a parent sees a child's timetable and substitutions",
    ("news", "parents"): "parent letters go to the parents linked to a class's students",
    ("privacy", "transfer.codec"): "a person's copy writes values as the school export does",
    ("privacy", "notifications.models"): "old notifications expire by a retention rule",
    ("privacy", "schoolyear.models"): "archived classes expire after their school year",
    ("asgi", "notifications"): "the real-time process also serves the notification bell",
}
# Upward on purpose: the process supervisor starts every server; URL modules mount views.
UPWARD = {
    ("core.management.commands.serve", "mail"): "kreide serve runs the mail servers too",
    ("accounts.urls", "status"): "the school office's incident page lives in status",
    ("mail.transfer", "transfer.archive"): "mail adds its own part to a school's archive",
    ("schools.access", "parents.models"): "parents are a role of the access layer",
    ("schools.demo", "parents.models"): "the sample logins name a parent",
    ("settings", "core.redis_url"): "settings read KREIDE_REDIS_URL as the Redis clients do",
}


def _layer(app: str) -> int:
    return next(index for index, apps in enumerate(LAYERS) if app in apps)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {  # `if TYPE_CHECKING:` imports are for type hints, not at run time
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kreide."):
            if node.module.count(".") == 1:  # from kreide.app import module
                found += [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("kreide.")]
    return found


def _allowed(source: str, app: str, target: str) -> bool:
    target_app = target.split(".")[1]
    if target_app == app or target in REGISTRIES:
        return True
    inner = target.split(".", 1)[1]
    if any(source.startswith(s) and inner.startswith(t) for (s, t) in UPWARD):
        return True
    mine, theirs = _layer(app), _layer(target_app)
    if theirs < mine:
        return True
    return theirs == mine and any(app == s and inner.startswith(t) for (s, t) in SIDEWAYS)


def test_no_module_imports_against_the_layers():
    forbidden = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if "migrations" in relative.parts:
            continue
        source = ".".join(relative.with_suffix("").parts)
        app = relative.parts[0].removesuffix(".py")
        forbidden += [
            f"{source} imports {target}"
            for target in _imports(path)
            if not _allowed(source, app, target)
        ]
    assert forbidden == []


def test_the_rule_catches_a_forbidden_import():
    assert not _allowed("core.views", "core", "kreide.tasks.services")
    assert not _allowed("tasks.views", "tasks", "kreide.video.services")
    assert not _allowed("schools.views", "schools", "kreide.accounts.school_admin")
    assert _allowed("tasks.views", "tasks", "kreide.schools.access")
