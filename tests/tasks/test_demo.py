import random

import pytest
from django.utils import timezone

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


def test_demo_hand_ins_are_coherent(world):
    """Nothing handed in the future, "late" only after the due date and only where the
    task takes late work, feedback after the hand-in, due dates at a school's hours."""
    demo.seed(world.school, random.Random(7))
    now = timezone.now()
    submissions = list(Submission.objects.for_school(world.school).select_related("task"))
    assert submissions
    for submission in submissions:
        task = submission.task
        assert task.starts_at <= submission.submitted_at <= now
        assert submission.changed_at == submission.submitted_at
        assert submission.late == (submission.submitted_at > task.due_at)
        assert task.accept_late or not submission.late
        if submission.reviewed_at is not None:
            assert submission.submitted_at <= submission.reviewed_at <= now
    for task in Task.objects.for_school(world.school):
        assert timezone.localtime(task.due_at).strftime("%M:%S") == "00:00"


def test_points_show_as_many_decimals_as_given(world, client_for):
    from decimal import Decimal

    demo.seed(world.school, random.Random(7))
    submission = Submission.objects.for_school(world.school).select_related("task").first()
    submission.points, submission.feedback = Decimal("8.00"), "Gut"
    submission.status = Submission.Status.REVIEWED
    submission.reviewed_at = timezone.now()
    submission.save()
    teacher = submission.task.created_by
    page = client_for(teacher).get(f"/tasks/{submission.task_id}/").content.decode()
    assert "8 Punkte" in page and "8,00" not in page
    submission.points = Decimal("7.50")
    submission.save()
    page = client_for(teacher).get(f"/tasks/{submission.task_id}/").content.decode()
    assert "7,5 Punkte" in page
