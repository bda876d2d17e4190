"""`kreide oidc-rotate-keys`: sign with a new key from now on; the old one stays published
until the tokens it signed have expired."""

from django.core.management.base import BaseCommand

from kreide.oidc import keys


class Command(BaseCommand):
    help = "Start a new id_token signing key; retire the current one."

    def handle(self, *args, **options) -> None:
        key, removed = keys.rotate()
        self.stdout.write(f"new key: {key.kid} (removed {removed} expired old key(s))")
