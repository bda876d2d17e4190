"""Demo content: every account its own folder, as an import makes them; every class folder
a "Material" folder with two small files."""

from __future__ import annotations

import random

from kreide.accounts.models import User
from kreide.files import services
from kreide.schools.models import Group, Membership, School
from kreide.storage.blobstore import store_bytes

WELCOME = (
    "Willkommen im Ordner eurer Klasse!\n\n"
    "Hier legen eure Lehrkräfte Arbeitsblätter und Material ab. Ihr könnt alles im Browser "
    "ansehen und herunterladen oder den Ordner per WebDAV im Explorer oder Finder öffnen.\n"
)
RULES = "Hausordnung (Auszug)\n\n1. Wir gehen respektvoll miteinander um.\n2. Pünktlichkeit.\n"


def seed(school: School, rng: random.Random) -> None:
    services.provision_personal_spaces(
        school.pk, list(User.objects.for_school(school).values_list("pk", flat=True))
    )
    welcome, rules = store_bytes(WELCOME.encode()), store_bytes(RULES.encode())
    for group in Group.objects.for_school(school).filter(kind=Group.Kind.CLASS):
        teacher_id = (
            Membership.objects.for_school(school)
            .filter(group=group, role=Membership.Role.TEACHER)
            .values_list("user_id", flat=True)
            .first()
        )
        root = services.root_of(services.group_space(group))
        material = services.insert_node(root, "Material", is_folder=True, created_by_id=teacher_id)
        for name, blob in (("Willkommen.txt", welcome), ("Hausordnung.txt", rules)):
            services.insert_node(
                material, name, blob=blob, size=blob.size, created_by_id=teacher_id
            )
    teacher = User.objects.for_school(school).filter(role=User.Role.TEACHER).order_by("pk").first()
    if teacher is not None:
        root = services.root_of(services.personal_space(teacher))
        services.insert_node(root, "Unterrichtsplanung", is_folder=True, created_by=teacher)
