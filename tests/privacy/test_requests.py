"""Requests from people: the copy holds every personal model, erasure leaves no row that
refers to the person, who may ask for what, and a full disk during a copy."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import translation

from kreide.accounts.models import User
from kreide.core.models import AuditEntry
from kreide.files import services as files
from kreide.messenger import services as messenger
from kreide.messenger.models import Message
from kreide.notifications.models import Notification
from kreide.parents.models import ParentLink
from kreide.privacy import access, personal, services
from kreide.privacy.models import AccessExport
from kreide.storage import blobstore
from kreide.storage.models import Blob
from kreide.tasks.models import Submission
from tests.conftest import tmpfs
from tests.privacy.conftest import review

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rich(world, hand_in, room):
    """A student with data in many modules: a handed-in, reviewed essay, a personal file,
    a message, a notification and a parent."""
    student = world.student_7a
    submission = review(world.teacher_7a, hand_in(student, b"my essay", "Aufsatz.txt"))
    actor = files.Actor(student)
    files.add_file(
        actor, files.root_of(files.personal_space(student)), "tagebuch.txt",
        blobstore.store_bytes(b"dear diary"),
    )  # fmt: skip
    messenger.send_message(student, room.pk, "Hallo Klasse", "privacy-hello")
    Notification.objects.for_school(world.school).create(user=student, text="Neue Aufgabe")
    parent = User.objects.create(school=world.school, role=User.Role.PARENT, username="mama")
    ParentLink.objects.for_school(world.school).create(parent=parent, child=student)
    return submission


def _build(actor, subject) -> zipfile.ZipFile:
    export = services.request_copy(actor, subject)
    done = services.process_next()
    assert done.pk == export.pk and done.state == AccessExport.State.READY, done.error
    return zipfile.ZipFile(access.path_of(done))


# --- the catalogue of personal data -----------------------------------------------------


def test_every_model_holding_personal_data_is_in_the_catalogue():
    assert personal.uncovered() == []


def test_the_enumeration_finds_every_foreign_key_to_a_person():
    user = get_user_model()
    pointing = {
        model._meta.label
        for model in apps.get_models(include_auto_created=True)
        for f in model._meta.concrete_fields
        if f.is_relation and f.related_model is user
    }
    assert pointing <= {model._meta.label for model in personal.personal_models()}


def test_a_model_left_out_of_the_catalogue_fails(monkeypatch):
    without = tuple(e for e in personal.CATALOGUE if e.label != "tasks.SubmissionFile")
    monkeypatch.setattr(personal, "CATALOGUE", without)
    personal.personal_models.cache_clear()
    try:
        problems = personal.uncovered()
    finally:
        personal.personal_models.cache_clear()
    # Found through its cascading key to a submission, the student's own content.
    assert len(problems) == 1 and problems[0].startswith("tasks.SubmissionFile holds")


def test_the_record_of_processing_describes_every_personal_model_and_activity():
    record = (ROOT / "docs" / "verarbeitungsverzeichnis.md").read_text(encoding="utf-8")
    missing = [f"`{e.label}`" for e in personal.CATALOGUE if f"`{e.label}`" not in record]
    missing += [title for title in personal.ACTIVITIES.values() if title not in record]
    assert missing == []
    documented = {line.split("`")[1] for line in record.splitlines() if line.startswith("| `")}
    assert documented <= set(personal.catalogue()), "the record names models that are gone"


# --- right of access --------------------------------------------------------------------


def test_the_copy_holds_every_personal_model_the_files_and_no_secrets(world, rich):
    archive = _build(world.student_7a, world.student_7a)
    names = set(archive.namelist())
    assert {f"daten/{e.label}.json" for e in personal.CATALOGUE} <= names
    index = json.loads(archive.read("inhalt.json"))
    assert set(index["tables"]) == {e.label for e in personal.CATALOGUE}
    for label in (
        "accounts.User", "tasks.Submission", "tasks.SubmissionFile", "files.Node",
        "messenger.Message", "notifications.Notification", "parents.ParentLink",
        "schools.Membership",
    ):  # fmt: skip
        assert index["tables"][label] >= 1, label
    me = json.loads(archive.read("daten/accounts.User.json"))["rows"]
    assert [row["username"] for row in me] == [world.student_7a.username]
    assert me[0]["password"] == access.WITHHELD
    submission = json.loads(archive.read("daten/tasks.Submission.json"))["rows"][0]
    assert submission["feedback"] == "Gut gemacht" and submission["text"] == "Mein Text"
    contents = {archive.read(name) for name in names if name.startswith("dateien/")}
    assert {b"my essay", b"dear diary"} <= contents
    assert not [name for name in names if "diary" in name or "classmate" in name]
    # Nobody else's rows: the classmate's membership is not in the student's copy.
    memberships = json.loads(archive.read("daten/schools.Membership.json"))["rows"]
    assert {row["user_id"] for row in memberships} == {world.student_7a.pk}


def test_progress_reaches_the_total_and_the_page_offers_the_download(world, rich, client_for):
    client = client_for(world.student_7a)
    client.post(reverse("privacy:mine"))
    waiting = AccessExport.objects.for_school(world.school).get()
    page = client.get(reverse("privacy:mine")).content.decode()
    assert 'hx-trigger="every 2s"' in page and "<progress" in page
    services.process_next()
    waiting.refresh_from_db()
    assert waiting.total > 0 and waiting.done == waiting.total and waiting.percent == 100
    fragment = client.get(reverse("privacy:copies", args=[world.student_7a.pk])).content.decode()
    assert "every 2s" not in fragment
    url = reverse("privacy:download", args=[waiting.pk])
    assert url in fragment
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    assert body[:2] == b"PK" and len(body) == waiting.size
    assert AuditEntry.unscoped.filter(action="privacy.access_downloaded").count() == 1


def test_an_old_copy_is_deleted_by_housekeeping(world, rich, settings):
    from datetime import timedelta

    from django.utils import timezone

    _build(world.student_7a, world.student_7a)
    export = AccessExport.objects.for_school(world.school).get()
    assert services.purge_expired_copies(timezone.now()) == 0
    later = timezone.now() + timedelta(days=settings.PRIVACY_EXPORT_DAYS, minutes=1)
    assert services.purge_expired_copies(later) == 1
    assert not access.path_of(export).exists()
    assert not AccessExport.objects.for_school(world.school).exists()


# --- who may ask ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "subject", "allowed"),
    [
        ("student_7a", "student_7a", True),
        ("student_7a", "classmate_7a", False),
        ("teacher_7a", "student_7a", False),
        ("teacher_7a", "teacher_7a", True),
        ("parent", "student_7a", False),
        ("parent", "parent", True),
        ("admin", "student_7a", True),
        ("admin", "teacher_7b", True),
        ("other_admin", "student_7a", False),
        ("deactivated", "deactivated", False),
    ],
)
def test_who_may_ask_for_a_copy(world, actor, subject, allowed, client_for):
    world.parent = User.objects.create(school=world.school, role=User.Role.PARENT, username="p1")
    ParentLink.objects.for_school(world.school).create(parent=world.parent, child=world.student_7a)
    world.deactivated = User.objects.create(school=world.school, username="gone", is_active=False)
    actor, subject = getattr(world, actor), getattr(world, subject)
    assert services.may_request_for(actor, subject) is allowed
    client = client_for(actor)
    if not actor.is_active:
        response = client.post(reverse("privacy:mine"))
        assert response.status_code == 302 and "/login/" in response["Location"]
    elif actor == subject:
        response = client.post(reverse("privacy:mine"))
        assert response.status_code == 302 and response["Location"] == reverse("privacy:mine")
    else:
        response = client.post(reverse("privacy:person", args=[subject.pk]))
        expected = {True: 302, False: 404 if actor.school_id != subject.school_id else 403}
        assert response.status_code == expected[allowed]
    assert AccessExport.unscoped.filter(subject=subject).exists() is allowed


def test_only_whoever_asked_downloads_the_copy(world, rich, client_for):
    _build(world.admin, world.student_7a)
    export = AccessExport.objects.for_school(world.school).get()
    url = reverse("privacy:download", args=[export.pk])
    assert client_for(world.student_7a).get(url).status_code == 403
    assert client_for(world.other_admin).get(url).status_code == 404
    assert client_for(world.admin).get(url).status_code == 200


def test_the_school_office_cannot_erase_itself_or_another_schools_people(world, client_for):
    admin = client_for(world.admin)
    assert admin.get(reverse("privacy:erase", args=[world.admin.pk])).status_code == 403
    assert admin.get(reverse("privacy:erase", args=[world.other_student.pk])).status_code == 404
    teacher = client_for(world.teacher_7a)
    response = teacher.post(
        reverse("privacy:erase", args=[world.student_7a.pk]), {"confirmed": "1"}
    )
    assert response.status_code == 403
    assert User.objects.filter(pk=world.student_7a.pk).exists()


# --- erasure ----------------------------------------------------------------------------


def _rows_referring_to(pk: int) -> list[str]:
    user = get_user_model()
    found = []
    for model in apps.get_models(include_auto_created=True):
        for f in model._meta.concrete_fields:
            if (
                f.is_relation
                and f.related_model is user
                and model._base_manager.filter(**{f.attname: pk}).exists()
            ):
                found.append(f"{model._meta.label}.{f.name}")
    return found


def test_erasure_leaves_no_row_referring_to_the_person(
    world, rich, client_for, settings, tmp_path, django_capture_on_commit_callbacks
):
    student = world.student_7a
    settings.MAIL_DIR = tmp_path / "mail"
    from kreide.mail import mailboxes

    mailbox = mailboxes.location(student)
    (mailbox / "Maildir" / "cur").mkdir(parents=True)
    (mailbox / "Maildir" / "cur" / "1.eml").write_bytes(b"Subject: hi\n\nhello")
    _build(world.admin, student)
    copy_path = access.path_of(AccessExport.objects.for_school(world.school).get())
    blobs = set(Blob.objects.values_list("sha256", flat=True))
    name = student.get_full_name()
    for text in (f"Abwesenheit gemeldet: {name}, 1.–2.3.", "Neue Aufgabe: Brüche"):
        Notification.objects.for_school(world.school).create(user=world.teacher_7a, text=text)
    admin = client_for(world.admin)

    preview = admin.get(reverse("privacy:erase", args=[student.pk])).content.decode()
    with translation.override("de"):
        assert f"1 × {Submission._meta.verbose_name_plural}" in preview
        assert f"1 × {Message._meta.verbose_name_plural}" in preview
    assert student.username in preview and 'name="confirmed" value="1"' in preview
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("privacy:erase", args=[student.pk]), {"confirmed": "1"})

    assert response.status_code == 302
    assert _rows_referring_to(student.pk) == []
    assert not mailbox.exists() and not copy_path.exists()
    # The teacher's task stays; the student's essay and diary are freed from the disk.
    gone = blobs - set(Blob.objects.values_list("sha256", flat=True))
    assert len(gone) == 2
    entry = AuditEntry.unscoped.get(action="privacy.person_erased")
    assert entry.details == {
        "account": student.pk,
        "role": "student",
        "rows": entry.details["rows"],
    }
    assert entry.details["rows"] > 5 and entry.actor == world.admin
    about = AuditEntry.unscoped.filter(target_type="accounts.user", target_id=str(student.pk))
    assert about.exists() and not about.exclude(target_label="").exists()
    assert not AuditEntry.unscoped.filter(target_label__contains=name).exists()
    assert not Submission.unscoped.filter(student_id=student.pk).exists()
    # The teacher's notification naming the student went; the other one stays.
    assert list(
        Notification.objects.for_school(world.school)
        .filter(user=world.teacher_7a)
        .values_list("text", flat=True)
    ) == ["Neue Aufgabe: Brüche"]


def test_erasure_needs_the_confirmation(world, client_for):
    response = client_for(world.admin).post(reverse("privacy:erase", args=[world.student_7a.pk]))
    assert response.status_code == 302
    assert User.objects.filter(pk=world.student_7a.pk).exists()


# --- faults -----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path, settings):
    """The copies' directory on a 64 KiB tmpfs of its own."""
    with tmpfs(tmp_path / "small", "64k") as mount:
        settings.PRIVACY_EXPORT_DIR = mount
        yield mount


def test_a_full_disk_fails_the_copy_clearly_and_keeps_nothing(world, hand_in, small_disk):
    hand_in(world.student_7a, os.urandom(256 * 1024), "gross.bin")  # does not compress
    services.request_copy(world.student_7a, world.student_7a)
    export = services.process_next()
    assert export.state == AccessExport.State.FAILED
    assert "voll" in export.error or "full" in export.error
    assert list(small_disk.iterdir()) == []


@pytest.mark.parametrize("who", ["student_7a", "teacher_7a", "parent", "other_admin"])
def test_only_the_school_office_sees_the_privacy_pages(world, who, client_for):
    world.parent = User.objects.create(school=world.school, role=User.Role.PARENT, username="p2")
    client = client_for(getattr(world, who))
    assert client.get(reverse("privacy:overview")).status_code == (
        200 if who == "other_admin" else 403
    )
    assert client.post(reverse("privacy:office_dry_run")).status_code in (
        (302,) if who == "other_admin" else (403,)
    )
    expected = 404 if who == "other_admin" else 403
    for name in ("privacy:person", "privacy:erase"):
        assert client.get(reverse(name, args=[world.student_7a.pk])).status_code == expected
    # Every page a person reaches stays theirs: no other's copies.
    copies = client.get(reverse("privacy:copies", args=[world.classmate_7a.pk]))
    assert copies.status_code == expected


def test_the_pages_cost_a_bounded_number_of_queries(
    world, rich, client_for, django_assert_max_num_queries
):
    for _ in range(3):
        services.request_copy(world.admin, world.student_7a)
        services.process_next()
    admin, student = client_for(world.admin), client_for(world.student_7a)
    with django_assert_max_num_queries(20):
        assert admin.get(reverse("privacy:overview")).status_code == 200
    with django_assert_max_num_queries(20):
        assert admin.get(reverse("privacy:person", args=[world.student_7a.pk])).status_code == 200
    with django_assert_max_num_queries(20):
        assert student.get(reverse("privacy:mine")).status_code == 200


def test_a_copy_abandoned_by_a_stopped_worker_is_built_again(world, rich):
    """The worker is a child of kreide serve; killed mid-copy, its copy is taken up again
    by the next worker once the heartbeat is old, never twice at once."""
    from datetime import timedelta

    from django.utils import timezone

    export = services.request_copy(world.student_7a, world.student_7a)
    AccessExport.objects.for_school(world.school).filter(pk=export.pk).update(
        state=AccessExport.State.RUNNING, heartbeat_at=timezone.now()
    )
    assert services.process_next() is None  # alive: left alone
    AccessExport.objects.for_school(world.school).filter(pk=export.pk).update(
        heartbeat_at=timezone.now() - services.STALE - timedelta(seconds=1)
    )
    rebuilt = services.process_next()
    assert rebuilt.pk == export.pk and rebuilt.state == AccessExport.State.READY
    assert access.path_of(rebuilt).exists()
