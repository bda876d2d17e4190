"""Shared fixtures: two schools with classes, and a factory for users of every role."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import subprocess
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache, caches
from django.db import connections
from django.utils import timezone

from kreide.accounts.models import User
from kreide.core import fragments
from kreide.parents.models import ParentLink
from kreide.schools.models import Group, Membership, School

PASSWORD = "correct-horse-7"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 640}
# axe-core from npm (package.json): loaded into pages by the tests only, never served.
AXE_SCRIPT = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"
_counter = itertools.count(1)


@functools.cache
def _password_hash() -> str:
    # One real argon2id hash per test session keeps fixtures fast and production-shaped.
    return make_password(PASSWORD)


@contextlib.contextmanager
def tmpfs(mount: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "2m") mounted at `mount`, so writes fail with the kernel's
    own ENOSPC (root only: the test is skipped otherwise)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def local_clock(monkeypatch):
    """Set the clock to a local time of day: `local_clock(time(23, 59, 30))` puts
    `timezone.now()` (and localtime/localdate with it) at that time today in TIME_ZONE
    (`days=1`: tomorrow), and it runs on from there, so "now + 1 minute" can cross midnight
    as it does for real."""
    real_now = timezone.now
    today = timezone.localdate()

    def set_to(at: time, days: int = 0) -> datetime:
        day = today + timedelta(days=days)
        start = timezone.make_aware(datetime.combine(day, at))
        shift = start - real_now()
        monkeypatch.setattr(timezone, "now", lambda: real_now() + shift)
        return start

    return set_to


def user_query() -> int:
    """The signed-in user's query on a session's third request in a process and later:
    none where the process keeps the user (Redis shared, accounts.keptuser)."""
    from django.conf import settings

    return 0 if settings.REDIS_URL and settings.FRAGMENT_CACHE_ENABLED else 1


def redis_reads_entries_at_once() -> bool:
    """Redis makes fragments' entry keys from the versions it reads: one round trip for
    both (the in-process cache needs a second)."""
    return hasattr(getattr(fragments.cache, "client", None), "get_client")


@pytest.fixture(autouse=True)
def _clear_cache(monkeypatch):
    from kreide.accounts import keptuser

    cache.clear()
    monkeypatch.setattr(keptuser, "_process", keptuser.KeptUsers())  # the users kept here
    yield
    cache.clear()


@pytest.fixture
def cache_reads(monkeypatch):
    """The keys each `get` and `get_many` of the default cache asked for, in order (the
    in-process cache's get_many calls its get: those are not round trips of their own)."""
    backend = caches["default"]
    reads: list[tuple[str, list[str]]] = []
    get, get_many = backend.get, backend.get_many
    inside_many = []

    def counted_get(key, *args, **kwargs):
        if not inside_many:
            reads.append(("get", [key]))
        return get(key, *args, **kwargs)

    def counted_get_many(keys, *args, **kwargs):
        reads.append(("get_many", list(keys)))
        inside_many.append(True)
        try:
            return get_many(keys, *args, **kwargs)
        finally:
            inside_many.pop()

    monkeypatch.setattr(backend, "get", counted_get)
    monkeypatch.setattr(backend, "get_many", counted_get_many)
    monkeypatch.setattr(fragments, "_read_at_once", _reading_at_once(reads))
    return reads


def _reading_at_once(reads: list[tuple[str, list[str]]]):
    """fragments' one round trip for versions and the entries Redis makes of them, as one
    `get_many` of all the keys it read."""
    read_at_once = fragments._read_at_once

    def counted(client, prefix, keys, arguments):
        values, entry_keys, entry_values = read_at_once(client, prefix, keys, arguments)
        reads.append(("get_many", [*keys, *entry_keys]))
        return values, entry_keys, entry_values

    return counted


@pytest.fixture
def school(db) -> School:
    return School.objects.create(name="Gymnasium Nord", slug="nord", address="Nordweg 1")


@pytest.fixture
def other_school(db) -> School:
    return School.objects.create(name="Realschule Süd", slug="sued", address="Südweg 2")


@pytest.fixture
def make_group(db):
    def make(school: School, name: str, kind: str = Group.Kind.CLASS, grade: int | None = 7):
        return Group.unscoped.create(school=school, name=name, kind=kind, grade=grade)

    return make


@pytest.fixture
def make_user(db):
    def make(
        school: School | None,
        role: str = User.Role.STUDENT,
        *,
        groups: tuple[Group, ...] = (),
        username: str | None = None,
        **fields,
    ) -> User:
        number = next(_counter)
        user = User.objects.create(
            school=school,
            role=role,
            username=username or f"{role}{number}",
            first_name=fields.pop("first_name", f"Vorname{number}"),
            last_name=fields.pop("last_name", f"Nachname{number}"),
            password=_password_hash(),
            **fields,
        )
        membership_role = (
            Membership.Role.TEACHER if role == User.Role.TEACHER else Membership.Role.MEMBER
        )
        for group in groups:
            Membership.unscoped.create(
                school=group.school, group=group, user=user, role=membership_role
            )
        return user

    return make


@pytest.fixture
def world(school, other_school, make_group, make_user):
    """Two schools; in the first, classes 7a and 7b with a teacher and students each."""

    class World:
        pass

    w = World()
    w.school, w.other_school = school, other_school
    w.class_7a = make_group(school, "7a")
    w.class_7b = make_group(school, "7b")
    w.other_class = make_group(other_school, "7a")
    w.teacher_7a = make_user(school, User.Role.TEACHER, groups=(w.class_7a,))
    w.teacher_7b = make_user(school, User.Role.TEACHER, groups=(w.class_7b,))
    w.student_7a = make_user(school, groups=(w.class_7a,))
    w.classmate_7a = make_user(school, groups=(w.class_7a,))
    w.student_7b = make_user(school, groups=(w.class_7b,))
    w.admin = make_user(school, User.Role.SCHOOL_ADMIN)
    w.other_admin = make_user(other_school, User.Role.SCHOOL_ADMIN)
    w.other_teacher = make_user(other_school, User.Role.TEACHER, groups=(w.other_class,))
    w.other_student = make_user(other_school, groups=(w.other_class,))
    return w


@pytest.fixture
def family(world, make_user):
    """A parent of student_7a and of a sibling in 7b; a second parent of student_7a."""
    world.sibling_7b = make_user(world.school, groups=(world.class_7b,), first_name="Geschwister")
    world.parent = make_user(world.school, User.Role.PARENT, first_name="Mutter")
    world.second_parent = make_user(world.school, User.Role.PARENT, first_name="Vater")
    for parent, child in (
        (world.parent, world.student_7a),
        (world.parent, world.sibling_7b),
        (world.second_parent, world.student_7a),
    ):
        ParentLink.unscoped.create(school=world.school, parent=parent, child=child)
    return world


@pytest.fixture
def parents(world, make_user):
    """`world` plus parent_7a (linked to student_7a) and parent_7b (linked to student_7b):
    the parent rows of every module's permission matrix."""
    world.parent_7a = make_user(world.school, User.Role.PARENT, last_name="Elternteil7a")
    world.parent_7b = make_user(world.school, User.Role.PARENT, last_name="Elternteil7b")
    for parent, child in ((world.parent_7a, world.student_7a), (world.parent_7b, world.student_7b)):
        ParentLink.unscoped.create(school=world.school, parent=parent, child=child)
    return world


@pytest.fixture
def deactivate(world):
    """Deactivate a class or group of the world's first school, as its office does."""
    from kreide.schools.services import set_group_active

    def run(group):
        return set_group_active(world.admin, group, False)

    return run


@pytest.fixture
def client_for(client):
    """A test client signed in as the given user (a fresh client per call)."""
    from django.test import Client

    def sign_in(user: User) -> Client:
        signed_in = Client()
        signed_in.force_login(user)
        return signed_in

    return sign_in


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django's ORM calls from
    # fixtures are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-gpu",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()
        # While Playwright's loop runs in this thread, Django keeps this thread's
        # connections per context (asgiref's thread-critical Local), apart from the one
        # made before the browser started: closed here, while the loop still runs, or the
        # test database's drop finds it open ("being accessed by other users").
        connections.close_all()


@pytest.fixture
def open_page(browser, live_server):
    """Opens pages in fresh browser contexts (own cookies) whose relative URLs go to the
    live server: `open_page()` on a desktop, `open_page(PHONE)` on a 360×640 phone."""
    contexts = []

    def open_(viewport: dict = DESKTOP):
        context = browser.new_context(
            base_url=live_server.url,
            locale="de-DE",
            viewport=viewport,
            is_mobile=viewport is PHONE,
            has_touch=viewport is PHONE,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_
    # Whatever page a browser test ends on is checked with axe-core too.
    grave = []
    for context in contexts:
        for opened in context.pages:
            if opened.url.startswith(live_server.url):
                grave += grave_violations(opened)
        context.close()
    assert not grave, "\n".join(grave)


@pytest.fixture
def page(open_page):
    """A desktop page in a fresh browser context."""
    return open_page()


@pytest.fixture
def phone_page(open_page):
    """A 360×640 phone page in a fresh browser context."""
    return open_page(PHONE)


@functools.cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def grave_violations(page) -> list[str]:
    """axe-core's critical and serious findings on the page, one line each.

    The script is evaluated through the DevTools protocol, which the page's strict CSP
    does not govern; pages themselves never load it."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    results = page.evaluate("() => window.axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['impact']} {v['id']} on {page.url}: {v['help']} "
        + "; ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in results["violations"]
        if v["impact"] in ("critical", "serious")
    ]


@pytest.fixture
def axe():
    """`axe(page)` fails the test on any critical or serious accessibility violation."""

    def check(page) -> None:
        grave = grave_violations(page)
        assert not grave, "\n".join(grave)

    return check


@pytest.fixture
def sign_in():
    """Sign in through the real login form in a browser page; back once the answer (the
    next page, or the form with its message) has loaded."""

    def submit(page, username: str, password: str = PASSWORD) -> None:
        page.goto("/accounts/login/")
        page.get_by_label("Benutzername oder E-Mail").fill(username)
        page.get_by_label("Passwort", exact=True).fill(password)
        # A click can return before a busy browser has even sent the form: a check right
        # after it read the old page, and a goto right after it cut the sign-in off.
        with page.expect_event("load"):
            page.get_by_role("button", name="Anmelden").click()

    return submit
