from django.core.management.base import BaseCommand
from tqdm import tqdm

from kreide.core.db import refresh_statistics
from kreide.schools.demo import DEMO_SLUG, create_demo_school, demo_logins
from kreide.schools.models import School


class Command(BaseCommand):
    help = "Create the demo school (1,200 students) if it does not exist, and print sample logins."

    def handle(self, *args, **options):
        if not School.objects.filter(slug=DEMO_SLUG).exists():
            with tqdm(desc="Demo school", unit="step", leave=False) as bar:

                def progress(step: str) -> None:
                    bar.set_postfix_str(step)
                    bar.update()

                create_demo_school(progress)
            refresh_statistics()
            self.stdout.write(self.style.SUCCESS("Demo school created."))
        logins = demo_logins()
        self.stdout.write(
            f"\nSample logins (password for all: {logins.password}):\n"
            f"  student:      {logins.student} (class {logins.class_name})\n"
            f"  teacher:      {logins.teacher} (teaches class {logins.class_name})\n"
            f"  parent:       {logins.parent} (parent of {logins.student} and a sibling)\n"
            f"  school admin: {logins.admin}\n"
        )
