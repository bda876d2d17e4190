"""`kreide purge-access-exports`: delete people's copies of their data past their days."""

from django.conf import settings
from django.core.management.base import BaseCommand

from kreide.privacy import services


class Command(BaseCommand):
    help = "Delete copies of personal data older than KREIDE_PRIVACY_EXPORT_DAYS."

    def handle(self, *args, **options) -> None:
        count = services.purge_expired_copies()
        self.stdout.write(
            f"{count} copies of personal data older than {settings.PRIVACY_EXPORT_DAYS} "
            "days deleted."
        )
