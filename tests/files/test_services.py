"""Folder tree rules: names, clashes, moves, copies, trash, quotas."""

import threading
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, connections, transaction
from django.utils import timezone

from kreide.files import services
from kreide.files.models import FileSettings, Node
from kreide.files.services import Actor, FileError, InvalidName, Level, NameClash, QuotaExceeded
from kreide.storage.blobstore import store_bytes

pytestmark = pytest.mark.django_db


def test_identical_content_is_stored_once(files):
    actor = Actor(files.student_7a)
    copy = services.add_file(actor, files.student_root, "Kopie.txt", store_bytes(b"geheim"))
    assert copy.blob_id == files.private_file.blob_id


def test_name_clash_renames_or_refuses(files):
    actor = Actor(files.student_7a)
    blob = store_bytes(b"x")
    second = services.add_file(actor, files.student_root, "Tagebuch.txt", blob)
    third = services.add_file(actor, files.student_root, "Tagebuch.txt", blob)
    assert (second.name, third.name) == ("Tagebuch (2).txt", "Tagebuch (3).txt")
    with pytest.raises(NameClash):
        services.add_file(actor, files.student_root, "Tagebuch.txt", blob, clash="error")


@pytest.mark.parametrize("name", ["CON", "a/b", "..", "bad:name", "trailing.", "nul.txt", ""])
def test_names_windows_cannot_store_are_refused(name):
    with pytest.raises(InvalidName):
        services.check_name(name)


def test_clean_name_keeps_umlauts_and_strips_paths():
    assert services.check_name("Übung ß.pdf") == "Übung ß.pdf"
    assert services.clean_name("../../etc/passwd") == "passwd"
    assert services.clean_name("Aufgabe?.pdf") == "Aufgabe_.pdf"


def test_move_into_itself_is_refused_clearly(files):
    actor = Actor(files.student_7a)
    outer = services.create_folder(actor, files.student_root, "Außen")
    inner = services.create_folder(actor, outer, "Innen")
    with pytest.raises(FileError, match="in sich selbst"):
        services.move(actor, outer, inner)
    with pytest.raises(FileError):
        services.move(actor, outer, outer)


def test_move_subtree_keeps_paths_consistent(files):
    actor = Actor(files.student_7a)
    a = services.create_folder(actor, files.student_root, "A")
    b = services.create_folder(actor, a, "B")
    leaf = services.add_file(actor, b, "c.txt", store_bytes(b"c"))
    target = services.create_folder(actor, files.student_root, "Ziel")
    services.move(actor, a, target)
    leaf.refresh_from_db()
    assert leaf.ancestor_ids() == [files.student_root.pk, target.pk, a.pk, b.pk, leaf.pk]


def test_copy_folder_copies_tree_without_duplicating_content(files):
    actor = Actor(files.student_7a)
    a = services.create_folder(actor, files.student_root, "A")
    services.add_file(actor, a, "x.txt", store_bytes(b"inhalt"))
    duplicate = services.copy(actor, a, files.student_root, clash="rename")
    assert duplicate.name == "A (2)"
    copied = services.children(duplicate)
    assert [c.name for c in copied] == ["x.txt"]
    assert copied[0].blob.sha256 == services.children(a)[0].blob.sha256


def test_trash_and_restore_subtree(files):
    actor = Actor(files.student_7a)
    folder = services.create_folder(actor, files.student_root, "Ordner")
    inside = services.add_file(actor, folder, "drin.txt", store_bytes(b"d"))
    services.trash(actor, folder)
    assert services.children(files.student_root) == [files.private_file]
    assert [e.pk for e in services.trash_entries(actor)] == [folder.pk]
    # A new folder with the same name meanwhile: the restored one gets a free name.
    services.create_folder(actor, files.student_root, "Ordner")
    restored = services.restore(actor, folder)
    assert restored.name == "Ordner (2)"
    inside.refresh_from_db()
    assert inside.deleted_at is None


def test_purge_removes_only_old_trash(files):
    actor = Actor(files.student_7a)
    old = services.create_folder(actor, files.student_root, "Alt")
    services.add_file(actor, old, "a.txt", store_bytes(b"a"))
    services.trash(actor, old)
    recent = services.add_file(actor, files.student_root, "neu.txt", store_bytes(b"n"))
    services.trash(actor, recent)
    Node.unscoped.filter(trash_root=old).update(
        deleted_at=timezone.now() - timezone.timedelta(days=31)
    )
    assert services.purge_trash() == 2
    assert not Node.unscoped.filter(pk=old.pk).exists()
    assert Node.unscoped.filter(pk=recent.pk).exists()


def test_quota_refuses_with_german_message(files):
    FileSettings.objects.for_school(files.school).create(school=files.school, user_quota_mb=1)
    actor = Actor(files.student_7a)
    big = store_bytes(b"x" * (1024 * 1024))
    with pytest.raises(QuotaExceeded, match="Nicht genug Speicherplatz"):
        services.add_file(actor, files.student_root, "groß.bin", big)


@pytest.mark.parametrize(
    ("who", "where", "expected"),
    [
        ("student_7a", "private_file", Level.WRITE),
        ("classmate_7a", "private_file", Level.NONE),
        ("teacher_7a", "private_file", Level.NONE),
        ("admin", "private_file", Level.NONE),
        ("other_student", "private_file", Level.NONE),
        ("student_7a", "class_file", Level.READ),
        ("teacher_7a", "class_file", Level.WRITE),
        ("teacher_7b", "class_file", Level.NONE),
        ("student_7b", "class_file", Level.NONE),
        ("other_teacher", "class_file", Level.NONE),
    ],
)
def test_permission_matrix_owners_and_groups(files, who, where, expected):
    assert Actor(getattr(files, who)).level(getattr(files, where)) == expected


def test_a_deactivated_class_grants_nothing(files, deactivate, client_for):
    from kreide.files.models import GroupWriter

    GroupWriter.objects.for_school(files.school).create(
        school=files.school, group=files.class_7a, user=files.classmate_7a
    )
    deactivate(files.class_7a)
    for who in ("student_7a", "classmate_7a", "teacher_7a"):
        assert Actor(getattr(files, who)).level(files.class_file) == Level.NONE, who
        response = client_for(getattr(files, who)).get(f"/files/item/{files.class_file.pk}/")
        assert response.status_code == 404, who
    writers = f"/files/group/{files.class_7a.pk}/writers/"
    assert client_for(files.teacher_7a).get(writers).status_code == 404


def test_group_writer_and_shares_grant_access(files):
    from kreide.files.models import GroupWriter, Share

    GroupWriter.objects.for_school(files.school).create(
        school=files.school, group=files.class_7a, user=files.student_7a
    )
    assert Actor(files.student_7a).level(files.class_file) == Level.WRITE
    Share.objects.for_school(files.school).create(
        school=files.school, node=files.student_root, group=files.class_7b
    )
    assert Actor(files.student_7b).level(files.private_file) == Level.READ
    assert Actor(files.classmate_7a).level(files.private_file) == Level.NONE
    with pytest.raises(PermissionDenied):
        services.rename(Actor(files.student_7b), files.private_file, "x.txt")


def test_demo_seed_fills_class_folders(world):
    import random

    from kreide.files import demo

    demo.seed(world.school, random.Random(1))
    material = services.child(services.root_of(services.group_space(world.class_7a)), "Material")
    assert [n.name for n in services.children(material)] == ["Hausordnung.txt", "Willkommen.txt"]
    assert Actor(world.student_7a).level(material) == Level.READ


def _one_waits_for_the_other(work) -> tuple:
    """Run `work()` in two transactions: the first holds its transaction open until the
    second waits for a lock (or 30 s), then commits. Returns both results (or errors)."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole transactions")
    first_done, second_waits = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def run(key: str) -> None:
        try:
            with transaction.atomic():
                results[key] = work()
                if key == "first":
                    first_done.set()
                    second_waits.wait(timeout=30)
        except Exception as error:  # the caller's assertions name it
            results[key] = error
        finally:
            first_done.set()
            connection.close()

    first = threading.Thread(target=run, args=("first",))
    first.start()
    first_done.wait(timeout=30)
    second = threading.Thread(target=run, args=("second",))
    second.start()
    with connections["default"].cursor() as cursor:
        for _attempt in range(600):  # until the second waits for a lock, at most 30 s
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            if cursor.fetchone()[0]:
                break
            time.sleep(0.05)
    second_waits.set()
    first.join(timeout=30)
    second.join(timeout=30)
    return results["first"], results["second"]


@pytest.mark.django_db(transaction=True)
def test_files_of_one_folder_upload_share_their_new_folder(files):
    """Two files of one uploaded folder complete at once: the second finds the first's
    "Referat" and goes there instead of creating "Referat (2)"."""
    actor = Actor(files.student_7a)
    first, second = _one_waits_for_the_other(
        lambda: services.ensure_folders(actor, files.student_root, ["Referat"])
    )
    assert isinstance(first, Node), first
    assert isinstance(second, Node), second
    assert second.pk == first.pk
    assert [node.name for node in services.children(files.student_root)] == [
        "Referat",
        "Tagebuch.txt",
    ]


@pytest.mark.django_db(transaction=True)
def test_two_uploads_of_one_name_at_once_both_keep_their_file(files):
    actor = Actor(files.student_7a)
    blob = store_bytes(b"%PDF")
    first, second = _one_waits_for_the_other(
        lambda: services.add_file(actor, files.student_root, "Bericht.pdf", blob)
    )
    assert isinstance(first, Node), first
    assert isinstance(second, Node), second
    assert (first.name, second.name) == ("Bericht.pdf", "Bericht (2).pdf")


@pytest.mark.django_db(transaction=True)
def test_files_arriving_at_once_never_exceed_the_quota_together(files):
    FileSettings.objects.for_school(files.school).create(school=files.school, user_quota_mb=1)
    actor = Actor(files.student_7a)
    blob = store_bytes(b"x" * 600_000)
    first, second = _one_waits_for_the_other(
        lambda: services.add_file(actor, files.student_root, "Video.mp4", blob)
    )
    assert isinstance(first, Node), first
    assert isinstance(second, QuotaExceeded), second
    assert services.usage_bytes(files.student_root.space) <= 1024 * 1024


def test_only_who_may_write_the_space_shares_from_it(files):
    with pytest.raises(PermissionDenied):
        services.share(Actor(files.student_7b), files.private_file, group=files.class_7b)
    shared = services.share(Actor(files.student_7a), files.private_file, group=files.class_7b)
    again = services.share(
        Actor(files.student_7a), files.private_file, group=files.class_7b, can_write=True
    )
    assert again.pk == shared.pk and again.can_write


def _space_roots(user) -> list[tuple[int, str]]:
    """(space id, root path) of every root folder of the user's spaces."""
    return [
        (node.space_id, node.path)
        for node in Node.objects.for_school(user.school_id).filter(space__user=user, parent=None)
    ]


def test_a_first_visit_creates_the_missing_spaces_each_with_its_root(files):
    """The teacher of 7b has no space yet, nor has 7b: both are created, each with a root
    folder whose path is its own id, and come out as a later visit sees them."""
    actor = Actor(files.teacher_7b)
    first = services.spaces_for(actor, figures=True)
    later = services.spaces_for(Actor(files.teacher_7b), figures=True)
    figures = [(s.pk, s.user_id, s.group_id, s.root_id, s.used, s.quota) for s in later]
    assert [(s.pk, s.user_id, s.group_id, s.root_id, s.used, s.quota) for s in first] == figures
    assert [(s.user_id, s.group_id) for s in later] == [
        (files.teacher_7b.pk, None),
        (None, files.class_7b.pk),
    ]
    for space in later:
        root = services.root_of(space)
        assert (root.pk, root.path, root.is_folder) == (space.root_id, f"/{root.pk}/", True)


def test_a_students_first_visit_adds_their_new_space_to_their_classes(files):
    """student_7b's class folder exists, their own does not: it joins the found spaces as
    created, with the school's quota, and no second query."""
    FileSettings.objects.for_school(files.school).create(school=files.school, user_quota_mb=3)
    services.group_space(files.class_7b)
    first = services.spaces_for(Actor(files.student_7b), figures=True)
    later = services.spaces_for(Actor(files.student_7b), figures=True)
    figures = [(s.pk, s.group_id, s.root_id, s.used, s.quota) for s in later]
    assert [(s.pk, s.group_id, s.root_id, s.used, s.quota) for s in first] == figures
    assert (later[0].user_id, later[0].quota) == (files.student_7b.pk, 3 * 1024 * 1024)
    assert _space_roots(files.student_7b) == [(later[0].pk, f"/{later[0].root_id}/")]


@pytest.mark.django_db(transaction=True)
def test_two_first_visits_at_once_make_one_space(files):
    """Two requests of a new user at once: the second's insert waits for the first's, is
    refused by the unique owner, and reads the space the first created."""
    first, second = _one_waits_for_the_other(
        lambda: services.spaces_for(Actor(files.student_7b), figures=True)
    )
    assert isinstance(first, list), first
    assert isinstance(second, list), second
    assert [(s.pk, s.root_id) for s in first] == [(s.pk, s.root_id) for s in second]
    assert _space_roots(files.student_7b) == [(first[0].pk, f"/{first[0].root_id}/")]
