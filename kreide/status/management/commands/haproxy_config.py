"""`kreide haproxy-config`: HAProxy in front of several Kreide nodes (deploy/haproxy.cfg)."""

from __future__ import annotations

from pathlib import Path
from string import Template

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# A node out of rotation within two failed checks, 2 s apart; back after two good ones.
CHECK_INTERVAL, FALL, RISE = "2s", 2, 2


def render(
    *,
    listen: str,
    nodes: list[str],
    run_dir: Path,
    check_host: str,
    maxconn: int = 20000,
) -> str:
    """deploy/haproxy.cfg with every value filled in; `nodes` are the nodes' nginx
    addresses (host:port)."""
    if not nodes:
        raise ValueError("at least one node (--node host:port) is needed")
    template = Template((Path(settings.BASE_DIR) / "deploy" / "haproxy.cfg").read_text())
    servers = "\n".join(
        f"    server node{number} {address}" for number, address in enumerate(nodes, 1)
    )
    return template.substitute(
        listen=listen,
        run_dir=run_dir,
        maxconn=maxconn,
        # A node's nginx itself holds what it cannot admit (503 + waiting page), so HAProxy
        # may hand it every connection it has.
        node_maxconn=maxconn,
        check_host=check_host,
        check_interval=CHECK_INTERVAL,
        fall=FALL,
        rise=RISE,
        servers=servers,
    )


class Command(BaseCommand):
    help = "Print an HAProxy configuration that spreads Kreide over several nodes."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--listen", default="*:80", help="address HAProxy listens on")
        parser.add_argument(
            "--node",
            action="append",
            default=[],
            help="a node's nginx (host:port); give it once per node",
        )
        parser.add_argument(
            "--run-dir", default="/run/haproxy", help="pid file and the admin socket"
        )
        parser.add_argument(
            "--check-host",
            default=settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS else "localhost",
            help="Host header of the /readyz health checks (one of KREIDE_ALLOWED_HOSTS)",
        )
        parser.add_argument(
            "--maxconn",
            type=int,
            default=20000,
            help="connections at once (HAProxy needs about twice as many file descriptors)",
        )

    def handle(self, *args, **options):
        try:
            config = render(
                listen=options["listen"],
                nodes=options["node"],
                run_dir=Path(options["run_dir"]),
                check_host=options["check_host"],
                maxconn=options["maxconn"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(config, ending="")
