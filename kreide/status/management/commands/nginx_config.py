"""`kreide nginx-config`: the front server's configuration from deploy/nginx.conf."""

from __future__ import annotations

import os
from pathlib import Path
from string import Template

from django.conf import settings
from django.core.management.base import BaseCommand

# A tus PATCH chunk (the uploader sends 4 MiB) or a form post, with headroom;
# Kreide itself enforces MAX_UPLOAD_BYTES per file.
BODY_LIMIT_MB = 10
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")


def render(
    *,
    listen: str,
    wsgi_address: str,
    asgi_address: str,
    run_dir: Path,
    server_name: str = "_",
    access_log: str = "off",
    worker_processes: str = "auto",
    user: str = "www-data",
) -> str:
    """deploy/nginx.conf with every value filled in."""
    template = Template((Path(settings.BASE_DIR) / "deploy" / "nginx.conf").read_text())
    brotli = BROTLI_MODULE.exists()
    return template.substitute(
        load_modules=f"load_module {BROTLI_MODULE};" if brotli else "",
        brotli_static="brotli_static on;" if brotli else "",
        worker_processes=worker_processes,
        user=user,
        run_dir=run_dir,
        log_dir=run_dir,
        access_log=access_log,
        wsgi_address=wsgi_address,
        asgi_address=asgi_address,
        listen=listen,
        server_name=server_name,
        client_max_body_size=f"{BODY_LIMIT_MB}m",
        static_root=Path(settings.STATIC_ROOT).resolve(),
        storage_dir=Path(settings.STORAGE_DIR).resolve(),
    )


class Command(BaseCommand):
    help = "Print the nginx configuration for this Kreide (static files, WebSockets, downloads)."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--listen", default="80")
        parser.add_argument("--server-name", default="_")
        port = os.environ.get("KREIDE_PORT", "8000")
        realtime = os.environ.get("KREIDE_REALTIME_PORT", "8001")
        parser.add_argument("--wsgi", default=f"127.0.0.1:{port}")
        parser.add_argument("--asgi", default=f"127.0.0.1:{realtime}")
        parser.add_argument(
            "--run-dir", default="/run/nginx-kreide", help="pid file, temporary files and error log"
        )
        parser.add_argument("--access-log", default="/var/log/nginx/kreide-access.log")
        parser.add_argument("--user", default="www-data", help="nginx's worker processes' user")

    def handle(self, *args, **options):
        self.stdout.write(
            render(
                listen=options["listen"],
                server_name=options["server_name"],
                wsgi_address=options["wsgi"],
                asgi_address=options["asgi"],
                run_dir=Path(options["run_dir"]),
                access_log=options["access_log"],
                user=options["user"],
            ),
            ending="",
        )
