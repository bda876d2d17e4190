"""Bounded fuzzing: hostile input gets a 4xx, never a 500.

Schemathesis generates requests from /api/v1/openapi.json; Hypothesis generates requests
for every page URL of Kreide, the tus upload server and WebDAV (its paths and PUT are
tests/faults/test_disk.py's). Each run is derandomized with a fixed number of examples,
so CI sees the same requests every time; each test reports how many it sent.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kreide.files import services as file_services
from kreide.files.services import Actor
from kreide.tasks import services as task_services
from kreide.tasks.models import Task
from kreide.wsgi import application
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def fuzz(examples: int):
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: the report names the request
        suppress_health_check=list(HealthCheck),
    )


@dataclass
class Tally:
    """Requests sent and the ones answered with a server error."""

    sent: int = 0
    server_errors: list[str] = field(default_factory=list)

    def record(self, what: str, status: int) -> None:
        self.sent += 1
        # 503 is a deliberate answer (overload, or a module whose server is not there, e.g.
        # no mail server in the tests), never a crash; every other 5xx is a fault.
        if status >= 500 and status != 503:
            self.server_errors.append(f"{status} {what}")

    def check(self, at_least: int) -> None:
        print(f"fuzz: {self.sent} requests, {len(self.server_errors)} server errors")
        for error in self.server_errors:
            print("  ", error)
        assert self.server_errors == []
        assert self.sent >= at_least


# --- hostile values -----------------------------------------------------------------------
HUGE = st.sampled_from([2**63, 2**64, 10**30, -1, -(2**63) - 1, 0])
IDS = st.one_of(st.integers(min_value=1, max_value=50), HUGE)
TEXT = st.text(max_size=40)
NESTED = st.integers(min_value=1, max_value=5000).map(lambda depth: "[" * depth + "]" * depth)
JSON_BODIES = st.one_of(
    NESTED,
    st.recursive(
        st.none() | st.booleans() | st.integers() | TEXT | HUGE,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=10,
    ).map(json.dumps),
    st.sampled_from(['{"a": NaN}', "[Infinity]", "\ufeff{}", '{"text": "\\ud800"}']),
    st.binary(max_size=60).map(lambda raw: raw.decode("latin-1")),
)
FORM_FIELDS = st.dictionaries(
    st.sampled_from(
        [
            "text",
            "title",
            "name",
            "q",
            "target",
            "upto",
            "mute",
            "participant",
            "writer",
            "groups",
            "students",
            "due_at",
            "points",
            "file",
            "username",
            "password",
            "action",
            "code",
            "next",
            "read_only",
            "muted",
        ]
    ),
    st.one_of(TEXT, IDS.map(str)),
    max_size=5,
)


@st.composite
def bodies(draw) -> tuple[str, bytes]:
    """(content type, body) of a POST: forms, JSON, multipart without boundary, garbage."""
    kind = draw(st.sampled_from(["form", "json", "multipart", "garbage"]))
    if kind == "form":
        fields = draw(FORM_FIELDS)
        encoded = "&".join(f"{key}={value}" for key, value in fields.items())
        return "application/x-www-form-urlencoded", encoded.encode("utf-8", "surrogatepass")
    if kind == "json":
        return "application/json", draw(JSON_BODIES).encode("utf-8", "surrogatepass")
    if kind == "multipart":
        boundary = draw(
            st.sampled_from(["", "; boundary=", "; boundary=x", "; boundary=" + "b" * 80])
        )
        return "multipart/form-data" + boundary, draw(st.binary(max_size=80))
    return draw(st.sampled_from(["text/plain", "application/xml", "", "a/b; c"])), draw(
        st.binary(max_size=80)
    )


# --- who asks -------------------------------------------------------------------------------
@pytest.fixture
def fuzz_world(world):
    """The world with a task, a folder and a file, so some generated ids hit real objects."""
    now = timezone.now()
    task = task_services.save_task(
        world.teacher_7a,
        Task(title="Aufsatz", starts_at=now - timedelta(days=1), due_at=now + timedelta(days=7)),
        [world.class_7a],
        [],
    )
    actor = Actor(world.student_7a)
    home = file_services.root_of(file_services.personal_space(world.student_7a))
    file_services.create_folder(actor, home, "Ordner")
    world.task = task
    return world


def _client(user) -> Client:
    client = Client(raise_request_exception=False, HTTP_X_CSRFTOKEN="k" * 32)
    client.cookies["csrftoken"] = "k" * 32
    if user is not None:
        client.force_login(user)
    return client


def _clients(world) -> list[Client]:
    return [_client(user) for user in (world.student_7a, world.teacher_7a, world.admin, None)]


# --- the API, from its OpenAPI document -----------------------------------------------------
def _fuzz_operation(operation, session: dict[str, str], task: Task, tally: Tally) -> None:
    @fuzz(10)
    @given(case=operation.as_strategy(), real_task=st.booleans())
    def call(case, real_task):
        if real_task and "pk" in (case.path_parameters or {}):
            case.path_parameters["pk"] = task.pk  # past the 404s, into the forms
        response = case.call(cookies=session, headers={"X-CSRFToken": "k" * 32})
        tally.record(
            f"{case.method} {case.formatted_path} {case.body!r:.200}", response.status_code
        )

    call()


@pytest.fixture
def keep_test_connection():
    """Schemathesis calls the WSGI application itself, which would close the test's
    database connection after each request; Django's test client avoids that the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_the_api_answers_generated_requests_without_server_errors(fuzz_world, keep_test_connection):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    tally = Tally()
    for user in (fuzz_world.teacher_7a, fuzz_world.student_7a):
        client = _client(user)
        session = {name: morsel.value for name, morsel in client.cookies.items()}
        for result in schema.get_all_operations():
            _fuzz_operation(result.ok(), session, fuzz_world.task, tally)
    tally.check(at_least=100)


# --- every page URL -------------------------------------------------------------------------
def _routes(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern) and entry.callback.__module__.startswith("kreide."):
            route = prefix + str(entry.pattern)
            # WebDAV and tus have fuzz tests of their own below.
            if not route.startswith(("dav/", "uploads/")):
                yield route, entry.pattern.converters


@functools.cache
def _all_routes() -> list:
    return sorted(_routes(get_resolver()))


@st.composite
def page_requests(draw) -> tuple[str, str, str, bytes]:
    route, converters = draw(st.sampled_from(_all_routes()))
    path = route
    for name in converters:
        kind = type(converters[name]).__name__
        if kind == "IdConverter":
            value = str(draw(st.integers(min_value=1, max_value=20)))
        else:
            value = draw(st.text(alphabet="abcXYZ09-_.%", min_size=1, max_size=12))
        path = path.replace(f"<{_spec(route, name)}>", value)
    query = draw(
        st.dictionaries(
            st.sampled_from(
                ["after", "before", "since", "q", "page", "next", "group", "role", "status", "day"]
            ),
            st.one_of(TEXT, IDS.map(str)),
            max_size=3,
        )
    )
    method = draw(st.sampled_from(["GET", "POST"]))
    content_type, body = draw(bodies()) if method == "POST" else ("", b"")
    return method, "/" + path, query, (content_type, body)


def _spec(route: str, name: str) -> str:
    start = route.index(f":{name}>")
    return route[route.rindex("<", 0, start) + 1 : start] + f":{name}"


def test_every_page_answers_hostile_requests_without_server_errors(fuzz_world):
    clients = _clients(fuzz_world)
    tally = Tally()

    @fuzz(250)
    @given(request=page_requests(), who=st.integers(min_value=0, max_value=len(clients) - 1))
    def call(request, who):
        method, path, query, (content_type, body) = request
        client = clients[who]
        if method == "GET":
            response = client.get(path, query)
        else:
            response = client.generic(
                "POST", path, body, content_type=content_type, QUERY_STRING=urlencode(query)
            )
        tally.record(f"{method} {path} {query} {content_type} {body[:60]!r}", response.status_code)

    call()
    tally.check(at_least=250)


# --- tus ------------------------------------------------------------------------------------
HEADER_VALUES = st.one_of(TEXT, IDS.map(str), st.sampled_from(["", "1.0.0", "-5", "1e9", "0x10"]))


@st.composite
def tus_requests(draw) -> tuple[str, dict[str, str], bytes]:
    method = draw(st.sampled_from(["POST", "PATCH", "HEAD", "DELETE", "OPTIONS", "GET"]))
    headers = {"HTTP_TUS_RESUMABLE": draw(st.sampled_from(["1.0.0", "1.0.0", "0.2", ""]))}
    for header in ("UPLOAD_LENGTH", "UPLOAD_OFFSET", "UPLOAD_DEFER_LENGTH", "UPLOAD_CHECKSUM"):
        if draw(st.booleans()):
            headers[f"HTTP_{header}"] = draw(HEADER_VALUES)
    if draw(st.booleans()):
        pairs = draw(
            st.lists(
                st.tuples(
                    st.sampled_from(
                        ["filename", "purpose", "folder", "task", "room", "filetype", ""]
                    ),
                    st.one_of(TEXT, IDS.map(str)),
                ),
                max_size=4,
            )
        )
        headers["HTTP_UPLOAD_METADATA"] = ",".join(
            f"{key} {base64.b64encode(value.encode('utf-8', 'surrogatepass')).decode()}"
            if draw(st.booleans())
            else f"{key} {value}"
            for key, value in pairs
        )
    headers["CONTENT_TYPE"] = draw(
        st.sampled_from(["application/offset+octet-stream", "", "text/plain"])
    )
    return method, headers, draw(st.binary(max_size=64))


def test_tus_answers_hostile_requests_without_server_errors(fuzz_world):
    client = _client(fuzz_world.student_7a)
    created = client.post(
        "/uploads/",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH="10",
        HTTP_UPLOAD_METADATA="filename " + base64.b64encode(b"a.txt").decode(),
    )
    real = created.get("Location", "/uploads/1")
    tally = Tally()

    @fuzz(150)
    @given(request=tus_requests(), target=st.sampled_from(["/uploads/", real, "/uploads/999"]))
    def call(request, target):
        method, headers, body = request
        response = client.generic(method, target, body, **headers)
        tally.record(f"{method} {target} {headers} {body[:40]!r}", response.status_code)

    call()
    tally.check(at_least=150)


# --- WebDAV (methods, headers and bodies; paths and PUT: test_disk.py) ------------------------
XML = st.one_of(
    st.sampled_from(
        [
            b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>',
            b'<?xml version="1.0"?><d:lockinfo xmlns:d="DAV:"><d:lockscope><d:exclusive/>'
            b"</d:lockscope><d:locktype><d:write/></d:locktype></d:lockinfo>",
            b'<?xml version="1.0"?><d:propertyupdate xmlns:d="DAV:"><d:set><d:prop>'
            b'<x:a xmlns:x="urn:x">1</x:a></d:prop></d:set></d:propertyupdate>',
            b"<!DOCTYPE a [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><a>&e;</a>",
            b"<" * 2000,
        ]
    ),
    st.binary(max_size=80),
)


@st.composite
def dav_requests(draw) -> tuple[str, str, dict[str, str], bytes]:
    method = draw(
        st.sampled_from(
            [
                "PROPFIND",
                "PROPPATCH",
                "MKCOL",
                "GET",
                "HEAD",
                "OPTIONS",
                "DELETE",
                "COPY",
                "MOVE",
                "LOCK",
                "UNLOCK",
            ]
        )
    )
    headers = {}
    for header, values in (
        ("DEPTH", st.sampled_from(["0", "1", "infinity", "2", "-1", ""]) | TEXT),
        ("DESTINATION", st.sampled_from(["/dav/x/", "http://evil.example/dav/", ""]) | TEXT),
        ("OVERWRITE", st.sampled_from(["T", "F", "x"])),
        ("IF", TEXT | st.just("(<opaquelocktoken:nope>)")),
        ("LOCK_TOKEN", TEXT | st.just("<opaquelocktoken:nope>")),
        ("TIMEOUT", st.sampled_from(["Second-60", "Infinite", "Second-" + "9" * 40]) | TEXT),
    ):
        if draw(st.booleans()):
            headers[f"HTTP_{header}"] = draw(values)
    target = draw(st.sampled_from(["", "Ordner/", "Ordner", "nichts/"]))
    return method, target, headers, draw(XML)


def test_webdav_answers_hostile_requests_without_server_errors(fuzz_world):
    student = fuzz_world.student_7a
    credentials = base64.b64encode(f"{student.username}:{PASSWORD}".encode()).decode()
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Basic {credentials}")
    tally = Tally()

    @fuzz(120)
    @given(request=dav_requests())
    def call(request):
        method, target, headers, body = request
        path = f"/dav/{student.username}/{target}"
        if "HTTP_DESTINATION" in headers and headers["HTTP_DESTINATION"] == "/dav/x/":
            headers["HTTP_DESTINATION"] = f"/dav/{student.username}/Kopie/"
        response = client.generic(method, path, body, content_type="application/xml", **headers)
        status = response.status_code
        if status == 502 and method in ("COPY", "MOVE"):
            status = 400  # RFC 4918 9.8.5: a Destination outside this server's namespace
        tally.record(f"{method} {path} {headers} {body[:40]!r}", status)

    call()
    tally.check(at_least=120)
