"""Views do not write models: every write goes through a service, which checks permission,
records the audit entry and publishes the event (docs/architecture.md).

The scan reads every Kreide module that Django's URL resolver routes to (views.py, the API
modules, the school office's pages, WebDAV, CalDAV, tus) and fails on a call that writes
through a model, a manager (a related one too: `obj.members.add(user)`) or a queryset."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest
from django.urls import URLResolver, get_resolver

WRITES = {"create", "update", "delete", "save", "get_or_create", "update_or_create"}
# A related manager's writes (many-to-many rows; `create` on a reverse foreign key too).
RELATED_WRITES = {"add", "set", "remove", "clear"}
# A chain through one of these is a manager or a queryset, whatever the last call is.
QUERYSET = {"objects", "unscoped", "for_school", "filter", "exclude", "all", "select_for_update"}

# Modules allowed to write directly, each with its reason.
ALLOWED = {
    "kreide.storage.tus": (
        "the tus 1.0 protocol server: the Upload rows it writes (offset, lock, expiry) are the "
        "protocol's own resumable state, not domain data; the domain write is the upload "
        "purpose's service, called when an upload completes"
    ),
}


def _chain(node: ast.expr) -> list[str]:
    """`Task.objects.for_school(s).filter(x=1)` -> ["Task", "objects", "for_school", "filter"]."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Name):
            parts.append(node.id)
            return parts[::-1]
        else:
            return parts[::-1]


def direct_writes(source: str) -> list[str]:
    """`line: call` for each write through a model, manager or queryset in `source`.

    Calls that only look like writes pass: `form.save(commit=False)` (nothing stored),
    `cache.delete(key)` and `context.update(other)` (positional arguments, no queryset),
    `services.delete(user, item)` (a service), `.update(key=value)` on a name assigned a
    dict in the same module."""
    tree = ast.parse(source)
    dicts = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and (
            isinstance(node.value, ast.Dict)
            or (isinstance(node.value, ast.Call) and _chain(node.value.func) == ["dict"])
        )
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        receiver = _chain(node.func.value)
        through_queryset = bool(QUERYSET & set(receiver[1:]))
        keywords = {keyword.arg for keyword in node.keywords}
        if name.startswith("bulk_") or name == "save_m2m":  # save_m2m: a ModelForm's m2m rows
            offending = True
        elif name == "save":
            commit = [k.value for k in node.keywords if k.arg == "commit"]
            offending = not (commit and isinstance(commit[0], ast.Constant) and not commit[0].value)
        elif name == "delete":
            offending = through_queryset or (not node.args and not node.keywords)
        elif name == "update":
            offending = through_queryset or (
                bool(keywords)
                and not node.args
                and not (len(receiver) == 1 and receiver[0] in dicts)
            )
        elif name in WRITES or name in RELATED_WRITES:
            # `obj.members.add(user)`, `task.submissions.create(...)`: a manager reached as an
            # attribute of something; a plain name (`seen.add(x)`, `cache.set(k, v)`,
            # `vevent.add(...)`) is a set, the cache or a library object.
            offending = (
                through_queryset
                or receiver[-1:] in (["objects"], ["unscoped"])
                or (len(receiver) >= 2 and isinstance(node.func.value, ast.Attribute))
            )
        else:
            offending = False
        if offending:
            found.append(f"{node.lineno}: {'.'.join(receiver)}.{name}()")
    return found


def view_modules() -> set[str]:
    """Every Kreide module a URL leads to (class-based views by their class)."""
    modules = set()

    def walk(patterns) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            else:
                view = pattern.callback
                owner = getattr(view, "view_class", None) or getattr(view, "cls", None) or view
                modules.add(owner.__module__)

    walk(get_resolver().url_patterns)
    return {module for module in modules if module.startswith("kreide.")}


def test_views_do_not_write_models_directly():
    modules = view_modules()
    assert {"kreide.files.views", "kreide.tasks.api", "kreide.files.webdav"} <= modules
    found = {}
    for module in sorted(modules - set(ALLOWED)):
        path = Path(importlib.import_module(module).__file__)
        writes = direct_writes(path.read_text(encoding="utf-8"))
        if writes:
            found[module] = writes
    assert found == {}, "move these writes into the app's services.py (or allow them, with why)"


def test_every_allowed_module_is_still_a_view_module():
    assert set(ALLOWED) <= view_modules()


@pytest.mark.parametrize(
    "source",
    [
        "Task.objects.create(title='x')",
        "Task.objects.for_school(school).filter(pk=1).update(title='x')",
        "Task.unscoped.filter(pk=1).delete()",
        "rows = Task.objects.filter(pk=1)\nrows.update(title='x')",
        "task.title = 'x'\ntask.save()",
        "task.save(update_fields=['title'])",
        "form.save()",
        "task.delete()",
        "Submission.objects.bulk_create(rows)",
        "task.groups.through.objects.bulk_update(rows, ['x'])",
        "Share.objects.get_or_create(folder=folder, user=user)",
        "Quota.objects.for_school(school).update_or_create(user=user, defaults={})",
        "group.members.add(user)",
        "task.students.set(chosen)",
        "letter.groups.remove(group)",
        "get_task(pk).groups.clear()",
        "Task.objects.get(pk=1).students.add(user)",
        "task.submissions.create(student=user)",
        "request.user.groups.get_or_create(name='x')",
        "form.save_m2m()",
    ],
)
def test_the_scan_finds_direct_writes(source):
    assert direct_writes(source)


@pytest.mark.parametrize(
    "source",
    [
        "services.save_task(teacher, form.save(commit=False), groups)",
        "cache.delete(key)",
        "context.update(extra)",
        "context = {'a': 1}\ncontext.update(qr=code)",
        "services.delete(request.user, item)",
        "Task.objects.for_school(school).filter(pk=1).first()",
        "calendars.create_event(user, title='x')",
        "seen.add(item.pk)",
        "cache.set(key, value, 60)",
        "vevent.add('summary', title)",
        "token = current_school.set(user.school_id)",
    ],
)
def test_the_scan_lets_services_and_non_model_calls_pass(source):
    assert direct_writes(source) == []
