"""`kreide haproxy-config`: HAProxy in front of several Kreide nodes (deploy/haproxy.cfg)."""

from __future__ import annotations

from pathlib import Path
from string import Template

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# A node out of rotation within two failed checks, 2 s apart; back after two good ones.
CHECK_INTERVAL, FALL, RISE = "2s", 2, 2


REDIS_SECTION = """
# Redis behind Sentinel: Kreide's KREIDE_REDIS_URL names this address; HAProxy passes the
# connections to whichever server says it is the master, so after Sentinel promoted a
# replica the nodes' next connection (their circuit breaker retries within 5 s) reaches it.
listen kreide_redis
    mode tcp
    bind ${redis_listen}
    timeout client 1h
    timeout server 1h
    option tcp-check
    tcp-check connect
    tcp-check send PING\\r\\n
    tcp-check expect string +PONG
    tcp-check send info\\ replication\\r\\n
    tcp-check expect string role:master
    tcp-check send QUIT\\r\\n
    tcp-check expect string +OK
    default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
${redis_servers}
"""


def render(
    *,
    listen: str,
    nodes: list[str],
    run_dir: Path,
    check_host: str,
    maxconn: int = 20000,
    redis: list[str] | None = None,
    redis_listen: str = "127.0.0.1:6379",
) -> str:
    """deploy/haproxy.cfg with every value filled in; `nodes` are the nodes' nginx
    addresses (host:port), `redis` the Redis servers Sentinel watches (optional)."""
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
        redis_section=Template(REDIS_SECTION).substitute(
            redis_listen=redis_listen,
            redis_servers="\n".join(
                f"    server redis{number} {address}" for number, address in enumerate(redis, 1)
            ),
        )
        if redis
        else "",
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
            "--redis",
            action="append",
            default=[],
            help="a Redis server watched by Sentinel (host:port), once per server: HAProxy "
            "passes connections to the current master",
        )
        parser.add_argument(
            "--redis-listen",
            default="127.0.0.1:6379",
            help="where HAProxy takes the nodes' Redis connections (KREIDE_REDIS_URL)",
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
                redis=options["redis"],
                redis_listen=options["redis_listen"],
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(config, ending="")
