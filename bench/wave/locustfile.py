"""A school's 8:00 wave, one Locust user per student (run by bench/wave/run.py).

Each student signs in, opens the dashboard (with its substitution plan section), their
timetable of the day and the school's substitution plan, the task list and a task,
downloads its 1 MB worksheet, uploads a 1 MB submission through tus, opens their files,
the class chat and sends a message; then stays and reloads the dashboard, task list or
timetable every 30-60 s, as a class does. A 503 is Kreide turning the request away: the
student honours Retry-After plus jittered exponential backoff (like kreide.js) and gives
up after five tries, which counts as an error.

Environment: WAVE_USERS (file with one username per line), WAVE_PASSWORD, WAVE_RAW
(where every request is written as a JSON line for the report).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CSRF_HEADER = re.compile(r'"X-CSRFToken": "([^"]+)"')
TASK_LINK = re.compile(r'href="/tasks/(\d+)/"')
WORKSHEET_LINK = re.compile(r'href="(/tasks/\d+/attachments/\d+/download)"')
ROOM_LINK = re.compile(r'href="(/messages/rooms/\d+/)"')
MAX_RETRIES = 5
SUBMISSION = os.urandom(1024 * 1024)

_usernames = itertools.cycle(
    Path(os.environ.get("WAVE_USERS", "/dev/null")).read_text().split() or ["student"]
)
_lock = threading.Lock()
_raw = open(os.environ.get("WAVE_RAW", os.devnull), "w")  # noqa: SIM115 (closed at quit)


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response, exception, context, **_):
    status = getattr(response, "status_code", 0) or 0
    _raw.write(
        json.dumps(
            {
                "t": round(time.time(), 3),
                "name": name,
                # Whose request: refusals are counted per student in the report.
                "student": context.get("student", ""),
                "ms": round(response_time, 2),
                "status": status,
                "error": exception is not None and status != 503,
                "why": str(exception)[:120] if exception else "",
                # Who turned a request away: nginx's front door sends the HTML waiting page,
                # Kreide's own admission control a short text to clients that ask for no HTML.
                "by": (
                    ("front" if "html" in response.headers.get("Content-Type", "") else "kreide")
                    if status == 503
                    else ""
                ),
            }
        )
        + "\n"
    )


def _watch_loop_lag() -> None:
    """How late the load generator's event loop wakes up: a busy generator adds this much
    to every latency it measures. Written as pseudo-requests named "loop lag"."""
    while True:
        before = time.perf_counter()
        gevent.sleep(0.1)
        lag = (time.perf_counter() - before - 0.1) * 1000
        _raw.write(json.dumps({"t": round(time.time(), 3), "name": "loop lag", "ms": lag}) + "\n")


@events.test_start.add_listener
def _start_watch(**_):
    gevent.spawn(_watch_loop_lag)


@events.quitting.add_listener
def _close(**_):
    _raw.close()


def _b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


class Student(FastHttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        with _lock:
            self.username = next(_usernames)
        self.csrf = ""
        self.journey_done = False

    def context(self) -> dict:
        return {"student": self.username}

    def call(self, method: str, path: str, name: str, ok=(200,), **kwargs):
        """One request; busy answers are retried after Retry-After plus backoff, capped."""
        for attempt in range(MAX_RETRIES + 1):
            with self.client.request(
                method, path, name=name, catch_response=True, **kwargs
            ) as response:
                if response.status_code == 503 and response.headers.get("Retry-After"):
                    response.success()  # counted as "shed" in the report, not as an error
                    delay = float(response.headers["Retry-After"])
                    delay += random.uniform(0, min(30, 2**attempt))
                elif response.status_code in ok:
                    response.success()
                    return response
                else:
                    response.failure(f"{response.status_code}")
                    return None
            if attempt == MAX_RETRIES:
                events.request.fire(
                    request_type="GIVEUP",
                    name=f"{name} (gave up)",
                    response_time=0,
                    response_length=0,
                    response=None,
                    exception=RuntimeError("gave up after retries"),
                    context=self.context(),
                )
                return None
            gevent.sleep(delay)
        return None

    def sign_in(self) -> bool:
        form = self.call("GET", "/accounts/login/", "login form")
        if form is None:
            return False
        token = CSRF_FIELD.search(form.text)
        signed_in = self.call(
            "POST",
            "/accounts/login/",
            "login",
            ok=(302,),
            allow_redirects=False,
            data={
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "username": self.username,
                "password": os.environ.get("WAVE_PASSWORD", "kreide-demo"),
                "remember": "on",
            },
            headers={"Referer": f"{self.host}/accounts/login/"},
        )
        return signed_in is not None

    def page(self, path: str, name: str):
        response = self.call("GET", path, name)
        if response is not None:
            found = CSRF_HEADER.search(response.text)
            if found:
                self.csrf = found.group(1)
        return response

    def upload(self, task_id: str) -> None:
        started = datetime.now(UTC).isoformat()
        metadata = ",".join(
            f"{key} {_b64(value)}"
            for key, value in {
                "purpose": "task-submission",
                "task": task_id,
                "filename": f"loesung-{uuid.uuid4().hex[:8]}.pdf",
                "filetype": "application/pdf",
                "started_at": started,
            }.items()
        )
        tus = {"Tus-Resumable": "1.0.0", "X-CSRFToken": self.csrf}
        created = self.call(
            "POST",
            "/uploads/",
            "upload create",
            ok=(201,),
            headers={**tus, "Upload-Length": str(len(SUBMISSION)), "Upload-Metadata": metadata},
        )
        if created is None:
            return
        location = created.headers["Location"].replace(self.host, "")
        self.call(
            "PATCH",
            location,
            "upload 1 MB",
            ok=(204,),
            data=SUBMISSION,
            headers={
                **tus,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )

    def journey(self) -> None:
        if not self.sign_in():
            return
        self.page("/", "dashboard")
        self.page("/timetable/", "timetable")
        self.page("/timetable/substitutions/", "substitution plan")
        tasks = self.page("/tasks/", "task list")
        task_ids = TASK_LINK.findall(tasks.text) if tasks is not None else []
        if task_ids:
            task_id = random.choice(task_ids)
            detail = self.page(f"/tasks/{task_id}/", "task")
            worksheet = WORKSHEET_LINK.search(detail.text) if detail is not None else None
            if worksheet:
                self.call("GET", worksheet.group(1), "worksheet 1 MB")
            # Only where the page offers it: some tasks take no files or are closed.
            if detail is not None and 'data-upload-purpose="task-submission"' in detail.text:
                self.upload(task_id)
        self.page("/files/", "files")
        chats = self.page("/messages/", "chat list")
        room = ROOM_LINK.search(chats.text) if chats is not None else None
        if room:
            self.page(room.group(1), "class chat")
            self.call(
                "POST",
                room.group(1) + "send",
                "send message",
                ok=(200, 201),
                json={"text": "Guten Morgen!", "key": uuid.uuid4().hex},
                headers={"X-CSRFToken": self.csrf},
            )
        events.request.fire(
            request_type="JOURNEY",
            name="journey complete",
            response_time=0,
            response_length=0,
            response=None,
            exception=None,
            context=self.context(),
        )

    @task
    def school_morning(self) -> None:
        if not self.journey_done:
            self.journey_done = True
            self.journey()
            return
        # Signed in and working: a look at the dashboard or the tasks now and then.
        gevent.sleep(random.uniform(30, 60))
        self.page(random.choice(["/", "/tasks/", "/timetable/"]), "reload")
