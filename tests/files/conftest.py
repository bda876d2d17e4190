import pytest

from kreide.files import services
from kreide.files.services import Actor
from kreide.storage.blobstore import store_bytes


@pytest.fixture
def files(world):
    """world plus: a file in student_7a's personal folder and one in 7a's class folder."""
    world.student_root = services.root_of(services.personal_space(world.student_7a))
    world.class_root = services.root_of(services.group_space(world.class_7a))
    world.private_file = services.add_file(
        Actor(world.student_7a), world.student_root, "Tagebuch.txt", store_bytes(b"geheim")
    )
    world.class_file = services.add_file(
        Actor(world.teacher_7a), world.class_root, "Arbeitsblatt.pdf", store_bytes(b"%PDF-1.4")
    )
    return world
