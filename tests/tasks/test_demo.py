import random

import pytest

from kreide.tasks import demo
from kreide.tasks.models import Attachment, Submission, Task

pytestmark = pytest.mark.django_db


def test_demo_seed_creates_tasks_worksheets_and_submissions(world):
    demo.seed(world.school, random.Random(4))
    tasks = Task.objects.for_school(world.school)
    assert tasks.count() == 6  # three per class with a teacher
    assert {t.title for t in tasks} <= {title for title, _, _ in demo.TASKS}
    attachment = Attachment.objects.for_school(world.school).select_related("blob").first()
    assert attachment.filename.endswith(".pdf") and attachment.blob.size > 500
    submissions = Submission.objects.for_school(world.school)
    assert submissions.exists()
    assert all(s.files.count() == 1 for s in submissions)
    assert not Task.objects.for_school(world.other_school).exists()
