"""`kreide drain`: take this node out of the load balancer before stopping it."""

from django.core.management.base import BaseCommand

from kreide.core import drain


class Command(BaseCommand):
    help = (
        "Answer /readyz with 503 so the load balancer stops sending this node requests "
        "(`--end` takes it back; `kreide serve` does so when it starts)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--end", action="store_true", help="Serve new requests again.")

    def handle(self, *args, end: bool = False, **options):
        if end:
            drain.end()
            self.stdout.write("This node takes new requests again.")
        else:
            drain.begin()
            self.stdout.write(
                "This node is draining: /readyz answers 503, the load balancer takes it out "
                "within its health-check interval; requests under way run to their end."
            )
