"""Demo tasks: worksheets as small PDFs, tasks for every class, some submissions."""

from __future__ import annotations

import io
import random
from datetime import datetime, time, timedelta

from django.utils import timezone
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from kreide.accounts.models import User
from kreide.schools.models import Group, Membership, School
from kreide.storage.blobstore import store_bytes
from kreide.tasks import services
from kreide.tasks.models import Attachment, Submission, SubmissionFile, Task
from kreide.tasks.services import render_markdown

TASKS = [
    (
        "Arbeitsblatt Bruchrechnung",
        "Bearbeite die Aufgaben 1–6. **Rechenweg angeben!**",
        ["3/4 + 1/8 = ?", "2/3 · 9/4 = ?", "5/6 − 1/3 = ?"],
    ),
    (
        "Gedichtanalyse Erlkönig",
        "Analysiere Goethes *Erlkönig*: Aufbau, Sprecher, Stimmung.",
        ["Strophen und Reimschema", "Die drei Sprecher", "Wirkung des Schlusses"],
    ),
    (
        "Vokabeln Unit 4",
        "Lerne die Vokabeln und schreibe fünf eigene Sätze.",
        ["to achieve – erreichen", "to require – erfordern", "reliable – zuverlässig"],
    ),
    (
        "Versuchsprotokoll Fotosynthese",
        "Protokoll zum Versuch mit der Wasserpest.",
        ["Material", "Durchführung", "Beobachtung", "Deutung"],
    ),
    (
        "Quellenarbeit Weimarer Republik",
        "Werte die beiden Quellen aus (M1, M2).",
        ["Wer spricht?", "Wann und wo?", "Absicht der Quelle"],
    ),
    ("Kartenarbeit Alpen", "Beschrifte die stumme Karte.", ["Gebirgszüge", "Flüsse", "Pässe"]),
]


def _worksheet_pdf(title: str, lines: list[str]) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=1)
    pdf.setTitle(title)
    pdf.setFont("Helvetica-Bold", 16)
    pdf.drawString(60, 780, title)
    pdf.setFont("Helvetica", 12)
    for number, line in enumerate(lines, start=1):
        pdf.drawString(60, 740 - 30 * number, f"{number}. {line}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def seed(school: School, rng: random.Random) -> None:
    now = timezone.now()
    worksheets = {title: store_bytes(_worksheet_pdf(title, lines)) for title, _, lines in TASKS}
    teachers = {
        membership.group_id: membership.user
        for membership in Membership.objects.for_school(school)
        .filter(role=Membership.Role.TEACHER)
        .select_related("user")
        .order_by("pk")
    }
    groups = [
        group
        for group in Group.objects.for_school(school).filter(is_active=True)
        if group.pk in teachers
    ]
    students_of: dict[int, list[int]] = {}
    for group_id, user_id in (
        Membership.objects.for_school(school)
        .filter(role=Membership.Role.MEMBER, user__role=User.Role.STUDENT)
        .values_list("group_id", "user_id")
    ):
        students_of.setdefault(group_id, []).append(user_id)

    tasks, task_groups = [], []
    for group in groups:
        for title, description, _lines in rng.sample(TASKS, 3):
            # Due at a time a school would pick: 8:00 before class, or 18:00.
            day = timezone.localdate() + timedelta(days=rng.randint(-5, 14))
            due = timezone.make_aware(datetime.combine(day, time(rng.choice([8, 18]))))
            task = Task(
                school=school,
                title=title,
                description=description,
                description_html=render_markdown(description),
                created_by=teachers[group.pk],
                starts_at=min(now, due - timedelta(days=7)),
                due_at=due,
                accept_late=rng.random() < 0.3,
                expects=rng.choice([Task.Expects.FILES, Task.Expects.BOTH]),
            )
            tasks.append(task)
            task_groups.append(group)
    Task.objects.for_school(school).bulk_create(tasks)
    Task.groups.through.objects.bulk_create(
        Task.groups.through(task_id=task.pk, group_id=group.pk)
        for task, group in zip(tasks, task_groups, strict=True)
    )
    Attachment.objects.for_school(school).bulk_create(
        Attachment(
            school=school, task=task, blob=worksheets[task.title], filename=f"{task.title}.pdf"
        )
        for task in tasks
    )

    # Submissions for tasks already due or due soon, from about two thirds of a class,
    # handed in between the start and now (late only when after the due date).
    answer = store_bytes("Meine Lösung\n\n1. …\n2. …\n".encode())
    submissions, files = [], []
    for task, group in zip(tasks, task_groups, strict=True):
        if task.due_at > now + timedelta(days=3):
            continue
        for student_id in students_of.get(group.pk, []):
            if rng.random() > 0.66:
                continue
            handed_in = task.due_at - timedelta(hours=rng.randint(-6, 48))
            if handed_in > now:
                continue  # not yet: this student still has time
            handed_in = max(handed_in, task.starts_at + timedelta(hours=1))
            if handed_in > task.due_at and not task.accept_late:
                continue  # the task took nothing after its due date
            submission = Submission(
                school=school,
                task=task,
                student_id=student_id,
                text="Siehe Datei im Anhang.",
                submitted_at=handed_in,
                status=Submission.Status.SUBMITTED,
                changed_at=handed_in,
                handed_in_at=handed_in,
                late=handed_in > task.due_at,
            )
            submission.receipt = services.receipt_of(
                submission, [SubmissionFile(blob=answer, filename="Lösung.txt")]
            )
            if task.due_at < now and rng.random() < 0.4:
                submission.status = Submission.Status.REVIEWED
                submission.feedback = rng.choice(
                    ["Gut gemacht!", "Bitte achte auf den Rechenweg.", "Sehr sorgfältig."]
                )
                submission.grade = rng.choice(["1", "2", "2-", "3+", "3"])
                submission.reviewed_by = task.created_by
                submission.reviewed_at = min(now, max(handed_in, task.due_at) + timedelta(hours=20))
            submissions.append(submission)
    Submission.objects.for_school(school).bulk_create(submissions)
    # bulk_create stamps submitted_at with now (auto_now_add): the real times go in after.
    for submission in submissions:
        submission.submitted_at = submission.changed_at
    Submission.objects.for_school(school).bulk_update(submissions, ["submitted_at"], batch_size=500)
    for submission in submissions:
        files.append(
            SubmissionFile(
                school=school,
                submission=submission,
                blob=answer,
                filename="Lösung.txt",
                upload_started_at=submission.changed_at,
            )
        )
    SubmissionFile.objects.for_school(school).bulk_create(files)
