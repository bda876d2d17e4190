"""A school's content in every exported module, built directly (no module's demo needed):
two-factor devices, an audit entry, a sign-in provider with an external ID, a task with
attachment, submissions with files and feedback, a file tree with a folder moved into a
newer one, a direct room with read state and an attachment, a video lesson with
attendance and chat, a timetable with a substitution, calendar dates and the school's
timetable keys, a parent with a news letter and its receipt, retention rules and a
deactivated account's clock,
notifications with settings and quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from decimal import Decimal

from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from kreide.accounts import upstream
from kreide.accounts.models import ExternalIdentity, UpstreamProvider, User
from kreide.core.audit import record
from kreide.files import services as files
from kreide.files.models import AppPassword, Node, PublicLink
from kreide.messenger.models import Attachment as MessageAttachment
from kreide.messenger.models import Message, Room, RoomMember
from kreide.news.models import News, NewsAttachment, Receipt
from kreide.notifications.models import Notification, Preferences, QuietHours
from kreide.parents.models import ParentLink
from kreide.privacy.models import Deactivation, RetentionRule, RetentionRun
from kreide.schools.models import Group, School
from kreide.schoolyear.models import ClassException, Leaver, RolloverRule, SchoolYear
from kreide.storage.blobstore import store_bytes
from kreide.tasks.models import Attachment, Submission, SubmissionFile, Task
from kreide.timetable.models import (
    CalendarSettings,
    Event,
    FeedToken,
    ImportKey,
    Lesson,
    Period,
    ScreenLink,
    Substitution,
    TeacherCode,
)
from kreide.timetable.models import Room as TimetableRoom
from kreide.video.models import Admission, ChatMessage, VideoLesson

# Not valid UTF-8, a NUL byte, and an umlaut in the text parts: files are bytes, not text.
WORKSHEET = b"%PDF-1.4 Arbeitsblatt Br\xc3\xbcche\n\x00\xff\xfe"
ESSAY = "Mein Aufsatz über Brüche 🙂".encode()
PHOTO = bytes(range(256)) * 300


@dataclass
class Content:
    moved_folder: Node
    moved_file: Node
    direct_room: Room
    reader: RoomMember
    audit_target: User


def add_content(
    school: School, admin: User, teacher: User, students: list[User], group: Group
) -> Content:
    now = timezone.now()
    TOTPDevice.objects.create(
        user=teacher, name="Handy", key="3132333435363738393031323334353637383930"
    )
    backup = StaticDevice.objects.create(user=teacher, name="backup")
    StaticToken.objects.create(device=backup, token="a1b2c3d4")
    entry_target = students[0]
    record(school, admin, "accounts.reset_password", target=entry_target, reason="vergessen")
    provider = UpstreamProvider.unscoped.create(
        school=school,
        name="Landes-Login",
        issuer="https://login.land.example",
        client_id="kreide-nord",
        secret_sealed=upstream.seal("geheim"),
        claim="schoolPersonId",
    )
    ExternalIdentity.unscoped.create(
        school=school, provider=provider, user=students[0], value="P-4711"
    )

    task = Task.unscoped.create(
        school=school,
        title="Brüche kürzen",
        description="**Seite 12**",
        created_by=teacher,
        due_at=now + timedelta(days=3),
        expects=Task.Expects.BOTH,
    )
    task.groups.add(group)
    task.students.add(students[0])
    Attachment.unscoped.create(
        school=school, task=task, blob=store_bytes(WORKSHEET), filename="arbeitsblatt.pdf"
    )
    for number, student in enumerate(students):
        submission = Submission.unscoped.create(
            school=school,
            task=task,
            student=student,
            text=f"Lösung {number}",
            feedback="Gut gemacht",
            points=Decimal("12.50"),
            grade="2+",
            reviewed_by=teacher,
            reviewed_at=now,
        )
        SubmissionFile.unscoped.create(
            school=school,
            submission=submission,
            blob=store_bytes(ESSAY + bytes([number])),
            filename="aufsatz.txt",
            upload_started_at=now - timedelta(minutes=5),
        )

    owner = students[0]
    root = files.root_of(files.personal_space(owner))
    older = files.insert_node(root, "Mathe", is_folder=True, created_by=owner)
    moved_file = files.insert_node(
        older, "foto.bin", blob=store_bytes(PHOTO), size=len(PHOTO), created_by=owner
    )
    newer = files.insert_node(root, "Archiv", is_folder=True, created_by=owner)
    files.move(files.Actor(owner), older, newer)  # the older folder now lies in a newer one
    PublicLink.unscoped.create(
        school=school,
        node=moved_file,
        token="t" * 40,
        expires_at=now + timedelta(days=7),
        created_by=owner,
    )
    AppPassword.unscoped.create(school=school, user=owner, name="Laptop", secret_sha256="ab" * 32)

    _add_timetable(school, teacher, students[0], group, now)

    low, high = sorted([teacher, students[1]], key=lambda user: user.pk)
    room = Room.unscoped.create(
        school=school, kind=Room.Kind.DIRECT, direct_key=f"{low.pk}-{high.pk}", created_by=teacher
    )
    RoomMember.unscoped.create(school=school, room=room, user=teacher)
    messages = [
        Message.unscoped.create(
            school=school, room=room, author=teacher, client_key=f"k{n}", body=f"Nachricht {n}"
        )
        for n in range(3)
    ]
    reader = RoomMember.unscoped.create(
        school=school, room=room, user=students[1], last_read_id=messages[1].pk
    )
    attachment = MessageAttachment.unscoped.create(
        school=school,
        room=room,
        uploader=students[1],
        blob=store_bytes(PHOTO[:999]),
        filename="bild.bin",
    )
    Message.unscoped.create(
        school=school, room=room, author=students[1], client_key="k9", attachment=attachment
    )

    lesson = VideoLesson.unscoped.create(
        school=school,
        group=group,
        teacher=teacher,
        title="Bruchrechnung live",
        starts_at=now,
        ends_at=now + timedelta(minutes=45),
        join_opens_at=now,
        status=VideoLesson.Status.ENDED,
        room_id=1234,
        room_secret="geheim",
    )
    Admission.unscoped.create(
        school=school,
        lesson=lesson,
        user=students[0],
        state=Admission.State.LEFT,
        queued_at=now,
        last_seen=now,
    )
    ChatMessage.unscoped.create(
        school=school, lesson=lesson, author=students[0], text="Ich habe eine Frage"
    )
    _add_news(school, admin, teacher, students[0], group, now)
    _add_school_year(school, students, group)
    _add_privacy(school, students, now)
    _add_notifications(school, students[0], now)
    moved_folder = Node.unscoped.get(pk=older.pk)
    return Content(moved_folder, Node.unscoped.get(pk=moved_file.pk), room, reader, entry_target)


def _add_notifications(school: School, student: User, now) -> None:
    """A delivered notification with a push held through quiet hours, the person's
    settings after a digest, and the school's quiet hours."""
    Notification.unscoped.create(
        school=school,
        user=student,
        kind=Notification.Kind.SUBSTITUTION,
        text="Stundenplanänderung am 07.12.: 3. Stunde: Entfall",
        url="/timetable/week/",
        delivered_at=now,
        push_held_until=now + timedelta(hours=9),
    )
    Preferences.unscoped.create(
        school=school, user=student, push=False, digest=True, digest_upto=7,
        digest_sent_on=now.date(), list_only=0b101, off=0b10,
    )  # fmt: skip
    QuietHours.unscoped.create(
        school=school, starts=time(21, 0), ends=time(6, 30), for_everyone=True
    )


def _add_news(school: School, admin: User, teacher: User, child: User, group: Group, now) -> None:
    """A pinned, edited school news with an end, and a parent letter with a file, a reply
    choice and one parent's receipt for a child."""
    parent = User.objects.create(
        school=school, username="eltern.transfer", role=User.Role.PARENT, last_name="Müller"
    )
    ParentLink.unscoped.create(school=school, parent=parent, child=child)
    News.unscoped.create(
        school=school,
        author=admin,
        title="Hitzefrei ☀",
        body="Ab 11:30 Uhr\nkein Unterricht.",
        published_at=now - timedelta(hours=2),
        expires_at=now + timedelta(days=1),
        edited_at=now - timedelta(hours=1),
        announced_at=now - timedelta(hours=2),
        pinned=True,
    )
    letter = News.unscoped.create(
        school=school,
        author=teacher,
        title="Einverständnis Wandertag",
        audience=News.Audience.PARENTS,
        published_at=now,
        announced_at=now,
        needs_confirmation=True,
        reply_choices="Ja\nNein",
    )
    letter.groups.add(group)
    NewsAttachment.unscoped.create(
        school=school, news=letter, blob=store_bytes(WORKSHEET), filename="einverständnis.pdf"
    )
    Receipt.unscoped.create(school=school, news=letter, child=child, parent=parent, choice="Ja")


def _add_school_year(school: School, students: list[User], group: Group) -> None:
    """The school year with its rule, a class exception, a leaver, a stable id and an
    archived class of the year before."""
    # A past year (the demo school has its current one already) and the rule, made once.
    SchoolYear.objects.for_school(school).create(
        label="2024/25", starts_on=date(2024, 8, 1), ends_on=date(2025, 7, 31)
    )
    RolloverRule.objects.for_school(school).update_or_create(
        school=school, defaults={"final_grade": 13, "teachers_follow": False}
    )
    ClassException.objects.for_school(school).create(group=group, action="move", target="8x")
    Leaver.objects.for_school(school).create(user=students[-1])
    User.objects.filter(pk=students[0].pk).update(sis_id="4711")
    Group.unscoped.create(
        school=school, name="6a (2024/25)", grade=6, is_active=False, archived_year="2024/25"
    )


def _add_privacy(school: School, students: list[User], now) -> None:
    """A school's own retention period, last night's counts and a deactivated account's
    retention clock."""
    RetentionRule.objects.for_school(school).create(kind="messages", days=180)
    RetentionRun.objects.for_school(school).create(started_at=now, counts={"messages": 3})
    Deactivation.objects.create(user=students[-1], since=now - timedelta(days=3))


def _add_timetable(school: School, teacher: User, student: User, group: Group, now) -> None:
    starts, ends = time(7, 55), time(8, 40)
    Period.unscoped.create(school=school, number=1, starts_at=starts, ends_at=ends)
    room = TimetableRoom.unscoped.create(school=school, code="R101", name="Raum für Brüche")
    other = TimetableRoom.unscoped.create(school=school, code="AULA")
    TeacherCode.unscoped.create(school=school, code="MÜL", user=teacher)
    Lesson.unscoped.create(
        school=school, weekday=1, period=1, group=group, teacher=teacher, room=room, number="7"
    )
    Substitution.unscoped.create(
        school=school,
        day=now.date(),
        period=1,
        group=group,
        kind=Substitution.Kind.ROOM_CHANGE,
        teacher=teacher,
        room=other,
        original_room=room,
        note="Aula wegen Wasserschaden",
    )
    ScreenLink.unscoped.create(school=school, token="s" * 32)
    Event.unscoped.create(
        school=school,
        audience=Event.Audience.GROUP,
        kind=Event.Kind.TEST,
        group=group,
        created_by=teacher,
        title="Klassenarbeit Brüche",
        starts_at=now,
        ends_at=now + timedelta(minutes=45),
    )
    Event.unscoped.create(
        school=school,
        audience=Event.Audience.PERSONAL,
        owner=student,
        title="Zahnarzt",
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        href="zahnarzt.ics",
        ical="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
    )
    CalendarSettings.unscoped.create(school=school, tests_per_day=2, state="BY")
    FeedToken.unscoped.create(school=school, user=student, token="f" * 32)
    ImportKey.unscoped.create(school=school, secret_sha256="cd" * 32, created_by=teacher)
