"""Export and import of the demo school: time, archive size, peak memory.

Builds a throwaway SQLite deployment with the full demo school (`kreide seed-demo`: every
module's demo content), optionally adds --extra-messages messages to show that memory does
not grow with the school, exports it, imports the archive into a fresh PostgreSQL
database (--pg-url, dropped and created: give it a database of its own) and exports it
there again. Each step is a `kreide` process measured by /usr/bin/time (wall time, max RSS).

    .venv/bin/python bench/transfer/run.py [--extra-messages 200000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRA = """
from kreide.accounts.models import User
from kreide.messenger.models import Message, Room
from kreide.schools.models import School
school = School.objects.get(slug="demo")
room = Room.objects.for_school(school).filter(kind="group").first()
author = User.objects.for_school(school).filter(role="teacher").first()
batch = [Message(school=school, room=room, author=author, client_key=f"bench{n}",
                 body=f"Nachricht {n}: " + "Bruchrechnung " * 8) for n in range({count})]
Message.unscoped.bulk_create(batch, batch_size=5000)
"""


def kreide(*args: str, env: dict[str, str], measure: bool = False) -> tuple[float, int]:
    command = [str(ROOT / ".venv" / "bin" / "kreide"), *args]
    if measure:
        command = ["/usr/bin/time", "-f", "TIME %e %M", *command]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(f"kreide {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    if not measure:
        return 0.0, 0
    seconds, kilobytes = re.search(r"TIME (\S+) (\d+)", done.stderr).groups()
    return float(seconds), int(kilobytes) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra-messages", type=int, default=0)
    parser.add_argument(
        "--pg-url", default="postgres://postgres@127.0.0.1:5432/kreide_transfer_bench"
    )
    options = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if not k.startswith("KREIDE_")}
    with tempfile.TemporaryDirectory(prefix="kreide-transfer-bench-") as scratch:
        source = {**base, "KREIDE_DATA_DIR": f"{scratch}/sqlite"}
        target = {**base, "KREIDE_DATA_DIR": f"{scratch}/pg", "KREIDE_DATABASE_URL": options.pg_url}
        kreide("migrate", "-v0", env=source)
        kreide("seed-demo", env=source)
        if options.extra_messages:
            kreide("shell", "-c", EXTRA.replace("{count}", str(options.extra_messages)), env=source)
        name = options.pg_url.rsplit("/", 1)[1]
        admin = options.pg_url.rsplit("/", 1)[0] + "/postgres"
        for statement in (
            f"DROP DATABASE IF EXISTS {name} WITH (FORCE)",
            f"CREATE DATABASE {name}",
        ):
            subprocess.run(["psql", admin, "-qc", statement], check=True)
        kreide("migrate", "-v0", env=target)

        archive = Path(scratch) / "demo.tar"
        rows = [
            ("start-up only (`kreide version`)", *kreide("version", env=source, measure=True)),
            (
                "export (SQLite)",
                *kreide(
                    "export",
                    "--school",
                    "demo",
                    str(archive),
                    "--no-progress",
                    env=source,
                    measure=True,
                ),
            ),
            ("verify", *kreide("verify", str(archive), "--no-progress", env=source, measure=True)),
            (
                "import (PostgreSQL)",
                *kreide("import", str(archive), "--no-progress", env=target, measure=True),
            ),
            (
                "export (PostgreSQL)",
                *kreide(
                    "export",
                    "--school",
                    "demo",
                    f"{scratch}/again.tar",
                    "--no-progress",
                    env=target,
                    measure=True,
                ),
            ),
        ]
        with tarfile.open(archive) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))
        total_rows = sum(manifest["counts"].values())
        print(
            f"demo school: {total_rows} rows, {len(manifest['blobs'])} files "
            f"({manifest['blob_bytes']} bytes), archive {archive.stat().st_size} bytes"
        )
        print("| step | wall s | max RSS MiB |\n|---|---|---|")
        for step, seconds, mib in rows:
            print(f"| {step} | {seconds:.1f} | {mib} |")


if __name__ == "__main__":
    main()
