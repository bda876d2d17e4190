"""`kreide notifications-work`: the delivery queue's worker (started by `kreide serve`).

Delivers waiting notifications live and by push, releases pushes held through quiet hours,
and runs the scheduled sources: the due-tomorrow reminders (hourly) and the daily e-mail
digest. Each step is idempotent, so a restart at any point is harmless.

Idle, it waits: on PostgreSQL for the queue's NOTIFY (a notification queued, a push held;
`delivery.CHANNEL`), at most until the next held push or scheduled run is due; on SQLite
it looks again every IDLE_SECONDS.
"""

import logging
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.utils import timezone

from kreide.core import leader
from kreide.notifications import delivery, digest, services

logger = logging.getLogger(__name__)
IDLE_SECONDS = 0.5
SCHEDULED_SECONDS = 600.0


class Command(BaseCommand):
    help = "Deliver notifications live, by Web Push and e-mail digest (run by `kreide serve`)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Deliver what is waiting now, then exit."
        )

    def handle(self, *args, once: bool = False, **options):
        pusher = delivery.Pusher()
        next_scheduled = 0.0
        # Every node's `kreide serve` starts a worker; one delivers (docs/scale-out.md).
        leadership = leader.Leadership("notifications", listen=[delivery.CHANNEL])
        while True:
            close_old_connections()  # a restarted database must not stop delivery for good
            if not once and not leadership.held():
                time.sleep(5)
                continue
            try:
                done = delivery.deliver_batch(pusher)
                if not done:
                    delivery.release_held(pusher)
                if time.monotonic() >= next_scheduled:
                    services.remind_due_tomorrow()
                    digest.send_due()
                    next_scheduled = time.monotonic() + SCHEDULED_SECONDS
                idle = 0.0 if done or once else _idle_seconds(leadership, next_scheduled)
            except Exception:  # the database away: try again, `kreide serve` keeps running
                if once:
                    raise
                logger.exception("notification delivery failed, retrying")
                done, idle = 0, 0.0
                time.sleep(5)
            if once and not done:
                self.stdout.write(f"{pusher.sent} pushes sent, {pusher.failed} failed")
                return
            if idle:
                leadership.wait(idle)


def _idle_seconds(leadership: leader.Leadership, next_scheduled: float) -> float:
    """How long nothing is to be done unless told: until the next held push or scheduled
    run where the queue's NOTIFY wakes the worker, else the poll's interval."""
    if not leadership.listening:
        return IDLE_SECONDS
    seconds = next_scheduled - time.monotonic()
    due = delivery.next_release()
    if due is not None:
        seconds = min(seconds, (due - timezone.now()).total_seconds())
    # A held push due now is released by the next round at once (a tiny wait, no spin).
    return max(seconds, 0.001)
