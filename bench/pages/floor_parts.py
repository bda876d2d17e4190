"""Python calls per part of a signed-in page: what every request pays besides its view.

Signs in as profile_pages.py does (the same settings, the same demo student), warms each
page up, then counts the calls of a few requests with `sys.setprofile` (Python and C
calls, as cProfile counts them), each booked to the innermost part it ran in: each
middleware (by class: its hooks and methods), the session's load, the user's load, URL
resolving, each context processor, the site header and the live script's tags,
`get_language()`, the view with its templates ("view"), Django's handler ("handler") and
the test client's own work around the handler ("outside"). The calls are exact and do
not depend on the machine's load.

    .venv/bin/python bench/pages/floor_parts.py --pages dashboard,tasks,task,chat,files
    .venv/bin/python bench/pages/floor_parts.py --pages tasks --detail mw:LocaleMiddleware
"""

from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Callable
from pathlib import Path
from types import CodeType, FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

import profile_pages  # noqa: E402 - sets up Django
from django.conf import settings  # noqa: E402
from django.core.handlers import base  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.template.context import RequestContext  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import translation  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

Part = str | Callable[[FrameType], str | None]


def _middleware(frame: FrameType) -> str | None:
    owner = frame.f_locals.get("self")
    return None if owner is None else f"mw:{type(owner).__name__}"


def _functions_of(owner: object) -> list[CodeType]:
    return [
        function.__code__
        for function in vars(owner).values()
        if hasattr(function, "__code__") and function.__code__.co_name != "__init__"
    ]


def parts() -> dict[CodeType, Part]:
    """Which code starts which part."""
    from kreide.accounts import middleware as accounts_middleware
    from kreide.core.sessions import SessionStore
    from kreide.core.templatetags import kreide_header

    found: dict[CodeType, Part] = {}
    for path in settings.MIDDLEWARE:
        for klass in import_string(path).__mro__[:-1]:  # not object
            found.update(dict.fromkeys(_functions_of(klass), _middleware))
    for klass in SessionStore.__mro__[:-1]:
        for name in ("load", "_get_session", "__getitem__", "get"):
            if name in vars(klass):
                found[vars(klass)[name].__code__] = "session"
    found[accounts_middleware._session_user.__code__] = "user"
    found[base.BaseHandler.resolve_request.__code__] = "resolve"
    for path in settings.TEMPLATES[0]["OPTIONS"]["context_processors"]:
        found[import_string(path).__code__] = "cp:" + ".".join(path.rsplit(".", 2)[-2:])
    found[RequestContext.bind_template.__code__] = "cp:(bind)"
    found[translation.get_language.__code__] = "get_language"
    for owner in [kreide_header] + [
        klass
        for klass in vars(kreide_header).values()
        if isinstance(klass, type) and klass.__module__ == kreide_header.__name__
    ]:
        for code in _functions_of(owner):
            if code.co_filename == kreide_header.__file__:
                found[code] = "header"
    found[base.BaseHandler._get_response.__code__] = "view"
    found[WSGIHandler.__call__.__code__] = "handler"
    found[base.BaseHandler.get_response.__code__] = "handler"
    return found


def count(
    client: Client, path: str, samples: int
) -> tuple[dict[str, float], dict[str, float], collections.Counter]:
    """Calls per request by part, how often each part was entered, and calls by part and
    function (summed over the samples)."""
    starts = parts()
    calls: collections.Counter = collections.Counter()
    entered: collections.Counter = collections.Counter()
    detail: collections.Counter = collections.Counter()
    stack: list[tuple[FrameType, str]] = []

    def tracer(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            part = starts.get(frame.f_code)
            name = part(frame) if callable(part) else part
            if name:
                stack.append((frame, name))
                entered[name] += 1
            where = stack[-1][1] if stack else "outside"
            calls[where] += 1
            code = frame.f_code
            detail[where, f"{code.co_filename.split('site-packages/')[-1]}:{code.co_name}"] += 1
        elif event == "c_call":
            where = stack[-1][1] if stack else "outside"
            calls[where] += 1
            detail[where, f"C:{getattr(arg, '__qualname__', arg)}"] += 1
        elif event == "return" and stack and stack[-1][0] is frame:
            stack.pop()

    for _ in range(samples):
        sys.setprofile(tracer)
        try:
            profile_pages.fetch(client, path)
        finally:
            sys.setprofile(None)
    return (
        {name: value / samples for name, value in calls.items()},
        {name: value / samples for name, value in entered.items()},
        detail,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", default="dashboard,tasks,task,chat,files")
    parser.add_argument("-n", type=int, default=5, help="requests counted per page")
    parser.add_argument("--warmup", type=int, default=10, help="requests per page before")
    parser.add_argument("--detail", default="", help="comma-separated parts: calls by function")
    args = parser.parse_args()

    from kreide.schools.demo import demo_logins

    client = Client()
    profile_pages.sign_in(client, demo_logins().student)
    pages = profile_pages.pages_of(client)
    names = args.pages.split(",")
    results = {}
    for name in names:
        page_client, path = pages[name]
        for _ in range(args.warmup):
            profile_pages.fetch(page_client, path)
        results[name] = count(page_client, path, args.n)
    shown = sorted(
        {part for calls, _, _ in results.values() for part in calls},
        key=lambda part: -sum(results[name][0].get(part, 0) for name in names),
    )
    print("| part | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for part in shown:
        row = " | ".join(f"{results[name][0].get(part, 0):,.0f}" for name in names)
        print(f"| {part} | {row} |")
    totals = " | ".join(f"{sum(results[name][0].values()):,.0f}" for name in names)
    print(f"| **total** | {totals} |")
    asked = " | ".join(f"{results[name][1].get('get_language', 0):.0f}" for name in names)
    print(f"| `get_language()` asked | {asked} |")
    for part in filter(None, args.detail.split(",")):
        for name in names:
            print(f"\n{part} on {name}, calls per request by function:")
            for (where, function), value in results[name][2].most_common():
                if where == part:
                    print(f"{value / args.n:8.1f} {function}")


if __name__ == "__main__":
    main()
