"""Tasks at 8:00: a class opens a task, downloads the worksheet and uploads solutions.

Starts Kreide's page server (Granian WSGI, as `kreide serve` does) on a free loopback port
with a database and data directory of its own, creates a class of N students with a task
and a worksheet, then measures three phases and prints a Markdown report:

1. open: every student repeatedly opens the task page and downloads the worksheet
   (requests/s, latency percentiles);
2. upload: every student uploads a solution at the same moment with tuspy, in 1 MiB chunks
   with SHA-1 chunk checksums (total time, throughput; every SHA-256 verified);
3. zip: the teacher downloads all submissions as one streamed ZIP (time, throughput).

    .venv/bin/python bench/tasks/run.py --students 30 --seconds 15 --upload-mb 2
    KREIDE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/kreide_bench_tasks \
      .venv/bin/python bench/tasks/run.py
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CSRF = "b" * 32


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(students: int) -> dict:
    """Create the school, class, task and worksheet; return ids and session cookies."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore
    from django.core.management import call_command
    from django.utils import timezone

    from kreide.accounts.models import User
    from kreide.schools.models import Group, Membership, School
    from kreide.storage.blobstore import store_bytes
    from kreide.tasks import services
    from kreide.tasks.demo import _worksheet_pdf
    from kreide.tasks.models import Task

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    school = School.objects.create(name="Bench-Schule", slug=f"bench-{time.time_ns()}")
    group = Group.unscoped.create(school=school, name="7a", grade=7)

    def person(role: str, number: int) -> User:
        user = User.objects.create(
            school=school,
            role=role,
            username=f"{school.slug}-{role}{number}",
            first_name=f"Vorname{number}",
            last_name=f"Nachname{number}",
        )
        Membership.unscoped.create(
            school=school,
            group=group,
            user=user,
            role=(Membership.Role.TEACHER if role == User.Role.TEACHER else Membership.Role.MEMBER),
        )
        return user

    def session(user: User) -> str:
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        return store.session_key

    teacher = person(User.Role.TEACHER, 0)
    pupils = [person(User.Role.STUDENT, number) for number in range(1, students + 1)]
    task = services.save_task(
        teacher,
        Task(
            title="Arbeitsblatt Bruchrechnung",
            due_at=timezone.now() + timezone.timedelta(days=1),
            max_file_mb=50,
        ),
        [group],
        [],
    )
    worksheet = services.add_attachment(
        teacher,
        task,
        store_bytes(_worksheet_pdf("Arbeitsblatt Bruchrechnung", ["3/4"] * 20)),
        "Arbeitsblatt.pdf",
    )
    return {
        "task": task.pk,
        "attachment": worksheet.pk,
        "teacher": session(teacher),
        "students": [session(pupil) for pupil in pupils],
    }


def get(port: int, path: str, session: str) -> tuple[int, float, int]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={"Cookie": f"sessionid={session}"})
    response = connection.getresponse()
    size = 0
    while chunk := response.read(256 * 1024):
        size += len(chunk)
    connection.close()
    return response.status, time.perf_counter() - started, size


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def phase_open(port: int, data: dict, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    paths = [
        f"/tasks/{data['task']}/",
        f"/tasks/{data['task']}/attachments/{data['attachment']}/download",
    ]

    def student(session: str) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            for path in paths:
                status, elapsed, _size = get(port, path, session)
                with lock:
                    latencies.append(elapsed)
                    errors += status != 200

    started = time.monotonic()
    threads = [threading.Thread(target=student, args=(s,)) for s in data["students"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
    }


def phase_upload(port: int, data: dict, megabytes: int, workdir: Path) -> dict:
    from tusclient import client as tus_client
    from tusclient.exceptions import TusCommunicationError

    lock, shed = threading.Lock(), [0]

    def create(headers: dict, source: Path):
        """Create the upload; like the browser widget, retry a 503 (admission control)."""
        for attempt in range(30):  # bounded
            uploader = tus_client.TusClient(
                f"http://127.0.0.1:{port}/uploads/", headers=headers
            ).uploader(
                file_path=str(source),
                chunk_size=1024 * 1024,
                upload_checksum=True,
                retries=30,  # PATCHes shed with 503 are retried by tuspy itself
                retry_delay=1,
                metadata={
                    "purpose": "task-submission",
                    "task": str(data["task"]),
                    "filename": "Lösung.pdf",
                },
            )
            try:
                uploader.set_url(uploader.create_url())
            except TusCommunicationError as refused:
                if refused.status_code != 503:
                    raise
                with lock:
                    shed[0] += 1
                time.sleep(random.uniform(0.5, 1.0 + attempt))
                continue
            uploader.offset = 0
            return uploader
        raise RuntimeError("upload creation refused 30 times")

    def upload(index_session: tuple[int, str]) -> tuple[bool, float]:
        index, session = index_session
        content = os.urandom(megabytes * 2**20)  # incompressible, like a scanned PDF
        source = workdir / f"loesung-{index}.pdf"
        source.write_bytes(content)
        headers = {"Cookie": f"sessionid={session}; csrftoken={CSRF}", "X-CSRFToken": CSRF}
        started = time.perf_counter()
        uploader = create(headers, source)
        uploader.upload()
        elapsed = time.perf_counter() - started
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request(
            "GET",
            uploader.url.split(f":{port}")[1] + "/result",
            headers={"Cookie": f"sessionid={session}"},
        )
        result = json.loads(connection.getresponse().read())
        # Uploaded is a draft: the student hands it in, as the page's "Abgeben" does.
        connection.request(
            "POST",
            f"/api/v1/tasks/{data['task']}/submission/hand-in",
            headers=headers,
        )
        handed_in = connection.getresponse()
        handed_in.read()
        verified = result.get("sha256") == hashlib.sha256(content).hexdigest()
        return verified and handed_in.status == 200, elapsed

    started = time.monotonic()
    with ThreadPoolExecutor(len(data["students"])) as pool:
        results = list(pool.map(upload, enumerate(data["students"])))
    total = time.monotonic() - started
    count = len(results)
    return {
        "uploads": count,
        "verified": sum(ok for ok, _ in results),
        "seconds": total,
        "shed": shed[0],
        "mb_per_s": count * megabytes / total,
        "p95": percentile([elapsed for _, elapsed in results], 0.95),
    }


def phase_zip(port: int, data: dict) -> dict:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request(
        "GET",
        f"/tasks/{data['task']}/submissions.zip",
        headers={"Cookie": f"sessionid={data['teacher']}"},
    )
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    members = len(zipfile.ZipFile(io.BytesIO(body)).namelist())
    return {
        "status": response.status,
        "members": members,
        "mb": len(body) / 2**20,
        "seconds": elapsed,
        "mb_per_s": len(body) / 2**20 / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--upload-mb", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="kreide-bench-tasks-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "kreide.settings",
            "KREIDE_DATA_DIR": str(workdir / "data"),
            "KREIDE_ALLOWED_HOSTS": "127.0.0.1",
        }
    )
    data = prepare(options.students)
    port = free_port()
    server = subprocess.Popen(
        [
            str(BIN / "granian"),
            "--interface",
            "wsgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(options.workers),
            "--blocking-threads",
            "8",
            "--no-log",
            "kreide.wsgi:application",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):  # bounded: 20 s
            try:
                if get(port, "/healthz", "")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        opened = phase_open(port, data, options.seconds)
        uploaded = phase_upload(port, data, options.upload_mb, workdir)
        zipped = phase_zip(port, data)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    database = "PostgreSQL" if os.environ.get("KREIDE_DATABASE_URL") else "SQLite"
    print(
        f"## Tasks at 8:00 ({options.students} students, {database}, "
        f"{options.workers} Granian workers)\n"
    )
    print("| phase | result |\n|---|---|")
    print(
        f"| open task + download worksheet | {opened['requests']} requests in "
        f"{options.seconds:.0f} s, {opened['rps']:.0f} req/s, p50 {opened['p50'] * 1000:.0f} ms,"
        f" p95 {opened['p95'] * 1000:.0f} ms, p99 {opened['p99'] * 1000:.0f} ms, "
        f"{opened['errors']} errors |"
    )
    print(
        f"| {uploaded['uploads']} simultaneous tus uploads of {options.upload_mb} MB | "
        f"{uploaded['seconds']:.1f} s, {uploaded['mb_per_s']:.1f} MB/s, p95 per upload "
        f"{uploaded['p95']:.1f} s, {uploaded['verified']}/{uploaded['uploads']} SHA-256 "
        f"verified; {uploaded['shed']} creations shed with 503 and retried |"
    )
    print(
        f"| streamed ZIP of all submissions | HTTP {zipped['status']}, {zipped['members']} "
        f"files, {zipped['mb']:.1f} MB in {zipped['seconds']:.2f} s "
        f"({zipped['mb_per_s']:.0f} MB/s) |"
    )


if __name__ == "__main__":
    main()
