"""`kreide nginx-config`: the front server's configuration from deploy/nginx.conf."""

from __future__ import annotations

from pathlib import Path
from string import Template

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kreide.core.admission import RETRY_AFTER_MARK, WAITING_CSP, render_waiting_page

# A tus chunk (a PATCH or a creation's first; the uploader sends 4 MiB) or a form post,
# with headroom; Kreide itself enforces MAX_UPLOAD_BYTES per file.
BODY_LIMIT_MB = 10
# WebDAV PUT and the form upload carry a whole file: MAX_UPLOAD_BYTES plus the form's own.
FORM_OVERHEAD_MB = 1
# How long a refused newcomer's ticket is honoured: the waiting page's twelve tries span
# about ten minutes (status/js/waiting.js).
TICKET_SECONDS = 600
BROTLI_MODULE = Path("/usr/lib/nginx/modules/ngx_http_brotli_static_module.so")


def front_limits(workers: int) -> tuple[int, int, int]:
    """Requests nginx lets into Kreide at once, the part of them for newcomers, and the
    larger part for newcomers who come back with a ticket after the wait they were told.

    Every worker runs its admitted requests and keeps half as many again waiting, enough to
    keep it busy between two requests; more waiting would only stretch everybody's answer
    time. Newcomers (sign-in form, sign-ins) may fill half of a worker's running slots, so
    students already signed in finish what they came for: measured on one core
    (bench/results/2026-11-25), half the running slots against all of them gave 7.7
    instead of 5.1 finished journeys/s under a 27/s overload and p95 128 instead of
    168 ms at 9/s; the price is a longer wait on the sign-in page (12 % of requests told
    to come back instead of 13 %, but nearly all of them sign-in forms).

    Newcomers who come back after the wait they were told may be as many again, outside
    the count that keeps room for students signed in; later arrivals cannot take those
    places. With one share for all, whoever happened to ask when a slot was free got in:
    at 12 students/s 13 of 540 gave up after six refusals in a row while others got in at
    once (docs/performance.md, "Waiting honoured at the front door"). In Kreide they wait,
    if need be, in its queue, behind the signed-in students' requests.
    """
    in_flight = settings.ADMISSION_IN_FLIGHT
    total = settings.FRONT_LIMIT or workers * (in_flight + in_flight // 2)
    newcomers = min(settings.FRONT_NEWCOMERS or max(1, workers * in_flight // 2), total)
    return total, newcomers, 2 * newcomers


def _nginx_string(text: str) -> str:
    """Text for a single-quoted nginx string: no quote, and no `$` read as a variable."""
    return text.replace("\\", "&#92;").replace("'", "&#39;").replace("$", "&#36;")


def waiting_pages() -> dict[str, str]:
    """The waiting page per language as nginx sends it, Retry-After filled in by nginx."""
    return {
        code: _nginx_string(render_waiting_page(code).decode()).replace(
            RETRY_AFTER_MARK, "${kreide_retry_after}"
        )
        for code, _name in settings.LANGUAGES
    }


def _busy_config(workers: int) -> dict[str, str]:
    if not settings.ADMISSION_ENABLED:
        # The naive configuration: nginx lets everything through.
        return {"front_limits": "", "busy_locations": "", "retry_after_map": "default 1;"}
    total, newcomers, waited = front_limits(workers)
    base = settings.ADMISSION_RETRY_AFTER
    return {
        "front_limits": (
            f"limit_conn kreide_front {total};\n"
            f"            limit_conn kreide_newcomers {waited};\n"
            f"            limit_conn kreide_fresh {newcomers};\n"
            "            error_page 503 /_busy/$kreide_busy_language;"
        ),
        "busy_locations": "\n".join(
            f"            location = /_busy/{code} {{ return 503 '{page}'; }}"
            for code, page in waiting_pages().items()
        ),
        "retry_after_map": "\n".join(
            f"        ~{digit:x}$ {base + digit % (base + 1)};" for digit in range(16)
        ),
    }


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
    workers: int = 2,
    real_ip_from: list[str] | None = None,
) -> str:
    """deploy/nginx.conf with every value filled in; `real_ip_from` lists the load
    balancers whose X-Forwarded-For names the client (several nodes behind HAProxy)."""
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
        file_body_size=f"{-(-settings.MAX_UPLOAD_BYTES // (1024 * 1024)) + FORM_OVERHEAD_MB}m",
        static_root=Path(settings.STATIC_ROOT).resolve(),
        storage_dir=Path(settings.STORAGE_DIR).resolve(),
        session_cookie=settings.SESSION_COOKIE_NAME,
        ticket_seconds=TICKET_SECONDS,
        # A retry has waited as told once Retry-After's shortest answer has passed.
        ticket_young_seconds=settings.ADMISSION_RETRY_AFTER,
        refusal_log=Path(settings.FRONT_REFUSAL_LOG).resolve(),
        default_language=settings.LANGUAGE_CODE,
        waiting_csp=WAITING_CSP,
        real_ip="".join(f"    set_real_ip_from {address};\n" for address in real_ip_from or ())
        + ("    real_ip_header X-Forwarded-For;" if real_ip_from else ""),
        # HAProxy always sets it (deploy/haproxy.cfg), so a client cannot.
        forwarded_proto="$http_x_forwarded_proto" if real_ip_from else "$scheme",
        **_busy_config(workers),
    )


class Command(BaseCommand):
    help = "Print the nginx configuration for this Kreide (static files, WebSockets, downloads)."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--listen", default="80")
        parser.add_argument("--server-name", default="_")
        port = str(settings.SERVE_PORT)
        realtime = str(settings.REALTIME_PORT)
        parser.add_argument("--wsgi", default=f"127.0.0.1:{port}")
        parser.add_argument("--asgi", default=f"127.0.0.1:{realtime}")
        parser.add_argument(
            "--run-dir", default="/run/nginx-kreide", help="pid file, temporary files and error log"
        )
        parser.add_argument("--access-log", default="/var/log/nginx/kreide-access.log")
        parser.add_argument("--user", default="www-data", help="nginx's worker processes' user")
        parser.add_argument(
            "--workers",
            type=int,
            default=settings.SERVE_WORKERS,
            help="WSGI worker processes of `kreide serve` (sizes what nginx lets through)",
        )
        parser.add_argument(
            "--real-ip-from",
            action="append",
            default=[],
            help="address of a load balancer in front (HAProxy): its X-Forwarded-For is the "
            "client's address; once per balancer",
        )

    def handle(self, *args, **options):
        try:
            config = render(
                listen=options["listen"],
                server_name=options["server_name"],
                wsgi_address=options["wsgi"],
                asgi_address=options["asgi"],
                run_dir=Path(options["run_dir"]),
                access_log=options["access_log"],
                user=options["user"],
                workers=options["workers"],
                real_ip_from=options["real_ip_from"],
            )
        except ValueError as error:  # the static manifest the waiting page links into
            raise CommandError(
                f"{error}. Run `kreide collectstatic` first: the waiting page nginx sends "
                "itself links the collected static files."
            ) from error
        self.stdout.write(config, ending="")
