"""The files pages: permission matrix, bad input, downloads, previews, sharing, links."""

import io
import re
import zipfile

import pytest
from django.core.cache import caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from kreide.core import fragments
from kreide.files import services
from kreide.files.models import AppPassword, FileSettings, Node, PublicLink, Share, Space
from kreide.files.services import Actor
from kreide.messenger.services import unread_key
from kreide.storage.blobstore import store_bytes
from tests.conftest import redis_reads_entries_at_once

pytestmark = pytest.mark.django_db


def _without_tokens(page: str | bytes) -> str:
    """The page with its CSRF tokens and CSP nonces blanked (they differ per response)."""
    text = page.decode() if isinstance(page, bytes) else page
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": "|nonce=")[^"]+', r"\1", text)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.mark.parametrize(
    ("who", "what", "status"),
    [
        ("student_7a", "private_file", 200),
        ("classmate_7a", "private_file", 404),
        ("teacher_7a", "private_file", 404),
        ("admin", "private_file", 404),
        ("other_admin", "private_file", 404),
        ("student_7a", "class_file", 200),
        ("student_7b", "class_file", 404),
        ("other_teacher", "class_file", 404),
        # A parent reads nothing of their child's files or class folders.
        ("parent_7a", "private_file", 404),
        ("parent_7a", "class_file", 404),
        ("parent_7b", "class_file", 404),
    ],
)
def test_download_permission_matrix(files, parents, client_for, who, what, status):
    node = getattr(files, what)
    response = client_for(getattr(files, who)).get(reverse("files:download", args=[node.pk]))
    assert response.status_code == status


@pytest.mark.parametrize("who", ["parent_7a", "parent_7b"])
def test_a_parent_reaches_no_page_of_the_childs_files(files, parents, client_for, who):
    client = client_for(getattr(files, who))
    home = client.get(reverse("files:home"))
    assert home.status_code == 200
    assert "Tagebuch.txt" not in home.content.decode()
    assert "Arbeitsblatt.pdf" not in home.content.decode()
    nodes = [files.student_root, files.class_root, files.private_file, files.class_file]
    for node in nodes:
        for name in ("files:folder", "files:view", "files:download", "files:preview"):
            response = client.get(reverse(name, args=[node.pk]))
            assert response.status_code in (403, 404), (name, node, response.status_code)
            assert b"geheim" not in _body(response) and b"%PDF" not in _body(response)
        for name in ("files:rename", "files:delete", "files:share", "files:create_link"):
            response = client.post(reverse(name, args=[node.pk]), {"name": "x", "who": "x"})
            assert response.status_code in (403, 404), (name, node, response.status_code)
    upload = client.post(
        reverse("files:upload", args=[files.class_root.pk]),
        {"files": SimpleUploadedFile("x.txt", b"x")},
    )
    assert upload.status_code in (403, 404)
    assert client.get(reverse("files:writers", args=[files.class_7a.pk])).status_code in (403, 404)
    assert Node.objects.for_school(files.school).filter(name="x.txt").count() == 0
    files.private_file.refresh_from_db()
    assert files.private_file.name == "Tagebuch.txt" and files.private_file.deleted_at is None


def test_students_read_class_folder_but_cannot_write(files, client_for):
    client = client_for(files.student_7a)
    page = client.get(reverse("files:folder", args=[files.class_root.pk]))
    assert "Arbeitsblatt.pdf" in page.content.decode()
    assert "Dateien hochladen" not in page.content.decode()
    refused = client.post(reverse("files:mkdir", args=[files.class_root.pk]), {"name": "Neu"})
    assert refused.status_code == 403
    refused = client.post(reverse("files:delete", args=[files.class_file.pk]))
    assert refused.status_code == 403
    assert not Node.unscoped.filter(name="Neu").exists()


def test_teacher_uploads_and_clash_is_renamed(files, client_for):
    client = client_for(files.teacher_7a)
    url = reverse("files:upload", args=[files.class_root.pk])
    upload = SimpleUploadedFile("Arbeitsblatt.pdf", b"%PDF-2")
    response = client.post(url, {"files": upload}, follow=True)
    assert "Hochgeladen." in response.content.decode()
    assert {n.name for n in services.children(files.class_root)} == {
        "Arbeitsblatt.pdf",
        "Arbeitsblatt (2).pdf",
    }


def test_path_traversal_in_names_is_neutralised(files, client_for):
    client = client_for(files.student_7a)
    client.post(
        reverse("files:upload", args=[files.student_root.pk]),
        {"files": SimpleUploadedFile("../../etc/passwd", b"x")},
    )
    client.post(reverse("files:mkdir", args=[files.student_root.pk]), {"name": "../CON"})
    names = {n.name for n in services.children(files.student_root)}
    assert names == {"Tagebuch.txt", "passwd", "_CON"}


def test_move_into_itself_shows_clear_message(files, client_for):
    actor = Actor(files.student_7a)
    outer = services.create_folder(actor, files.student_root, "Außen")
    inner = services.create_folder(actor, outer, "Innen")
    response = client_for(files.student_7a).post(
        reverse("files:move", args=[outer.pk]), {"target": inner.pk}, follow=True
    )
    assert "Ein Ordner kann nicht in sich selbst verschoben werden." in response.content.decode()


def test_renaming_moving_or_deleting_a_root_folder_is_a_message_not_a_500(files, client_for):
    client = client_for(files.student_7a)
    root = files.student_root.pk
    for name, data in (
        ("files:delete", {}),
        ("files:rename", {"name": "X"}),
        ("files:move", {"target": root}),
    ):
        response = client.post(reverse(name, args=[root]), data, follow=True)
        assert response.status_code == 200, name
        assert response.redirect_chain[0][0] == reverse("files:folder", args=[root])
    files.student_root.refresh_from_db()
    assert files.student_root.deleted_at is None


def test_cannot_move_into_another_users_folder(files, client_for):
    other_root = services.root_of(services.personal_space(files.classmate_7a))
    response = client_for(files.student_7a).post(
        reverse("files:move", args=[files.private_file.pk]), {"target": other_root.pk}
    )
    assert response.status_code == 404
    files.private_file.refresh_from_db()
    assert files.private_file.parent_id == files.student_root.pk


def test_delete_and_restore_through_the_trash(files, client_for):
    client = client_for(files.student_7a)
    client.post(reverse("files:delete", args=[files.private_file.pk]))
    assert "Tagebuch.txt" in client.get(reverse("files:trash")).content.decode()
    assert (
        "Tagebuch.txt"
        not in client.get(reverse("files:folder", args=[files.student_root.pk])).content.decode()
    )
    # Someone else cannot restore it.
    assert (
        client_for(files.classmate_7a)
        .post(reverse("files:restore", args=[files.private_file.pk]))
        .status_code
        == 404
    )
    client.post(reverse("files:restore", args=[files.private_file.pk]))
    files.private_file.refresh_from_db()
    assert files.private_file.deleted_at is None


def test_folder_zip_is_streamed_and_complete(files, client_for):
    actor = Actor(files.student_7a)
    sub = services.create_folder(actor, files.student_root, "Unterordner")
    services.add_file(actor, sub, "ä.txt", store_bytes(b"umlaut"))
    services.create_folder(actor, files.student_root, "Leer")
    response = client_for(files.student_7a).get(
        reverse("files:download", args=[files.student_root.pk])
    )
    assert response.streaming
    archive = zipfile.ZipFile(io.BytesIO(_body(response)))
    assert archive.read("Tagebuch.txt") == b"geheim"
    assert archive.read("Unterordner/ä.txt") == b"umlaut"
    assert "Leer/" in archive.namelist() and archive.getinfo("Leer/").is_dir()
    assert archive.testzip() is None


def test_preview_is_inline_only_for_safe_types(files, client_for):
    actor = Actor(files.student_7a)
    svg = services.add_file(actor, files.student_root, "bild.svg", store_bytes(b"<svg/>"))
    pdf = services.add_file(actor, files.student_root, "blatt.pdf", store_bytes(b"%PDF"))
    client = client_for(files.student_7a)
    assert client.get(reverse("files:preview", args=[svg.pk])).status_code == 404
    response = client.get(reverse("files:preview", args=[pdf.pk]))
    assert response["Content-Disposition"].startswith("inline")
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in response["Content-Security-Policy"]
    page = client.get(reverse("files:view", args=[pdf.pk])).content.decode()
    assert f'<iframe class="preview" src="{reverse("files:preview", args=[pdf.pk])}"' in page


def test_share_with_person_and_group(files, client_for):
    url = reverse("files:share", args=[files.private_file.pk])
    owner = client_for(files.student_7a)
    owner.post(url, {"username": files.student_7b.username})
    assert (
        client_for(files.student_7b)
        .get(reverse("files:download", args=[files.private_file.pk]))
        .status_code
        == 200
    )
    dashboard = client_for(files.student_7b).get(reverse("dashboard:home")).content.decode()
    assert "Tagebuch.txt" in dashboard
    # A user of another school is not found; nothing is shared.
    response = owner.post(url, {"username": files.other_student.username})
    assert "An dieser Schule gibt es niemanden" in response.content.decode()
    assert Share.unscoped.count() == 1
    # Read-only shares do not allow changes; the reader cannot share further.
    assert (
        client_for(files.student_7b)
        .post(reverse("files:rename", args=[files.private_file.pk]), {"name": "x"})
        .status_code
        == 403
    )
    assert client_for(files.student_7b).get(url).status_code == 403


def test_public_link_until_school_switches_it_off(files, client, client_for):
    client_for(files.teacher_7a).post(
        reverse("files:create_link", args=[files.class_file.pk]), {"days": 7}
    )
    link = PublicLink.unscoped.get()
    url = reverse("files:public_download", args=[link.token, files.class_file.pk])
    assert _body(client.get(url)) == b"%PDF-1.4"
    # Another node outside the shared one is not reachable through the link.
    assert (
        client.get(
            reverse("files:public_download", args=[link.token, files.private_file.pk])
        ).status_code
        == 404
    )
    files.school.public_links_allowed = False
    files.school.save()
    assert client.get(url).status_code == 404


def test_quotas_are_set_by_the_school_admin_only(files, client_for):
    assert client_for(files.teacher_7a).get(reverse("files:quotas")).status_code == 404
    client_for(files.admin).post(reverse("files:quotas"), {"user_quota_mb": 1, "group_quota_mb": 2})
    assert FileSettings.objects.for_school(files.school).get().user_quota_mb == 1
    response = client_for(files.student_7a).post(
        reverse("files:upload", args=[files.student_root.pk]),
        {"files": SimpleUploadedFile("gross.bin", b"x" * (1024 * 1024 + 1))},
        follow=True,
    )
    assert "Nicht genug Speicherplatz" in response.content.decode()


def test_files_home_lists_each_space_with_usage_and_quota_in_bounded_queries(
    files, client_for, django_assert_max_num_queries
):
    client_for(files.admin).post(reverse("files:quotas"), {"user_quota_mb": 3, "group_quota_mb": 7})
    client = client_for(files.student_7a)
    client.get(reverse("files:home"))  # the session and the caches as on every later visit
    # The user, their groups, the spaces with their roots, usage and quotas.
    with django_assert_max_num_queries(3):
        page = client.get(reverse("files:home")).content.decode()
    own = reverse("files:folder", args=[files.student_root.pk])
    shared = reverse("files:folder", args=[files.class_root.pk])
    assert own in page and shared in page
    # Tagebuch.txt (6 bytes) of 3 MB in the own folder, the worksheet (8 bytes) of 7 MB.
    assert "6\xa0Bytes von 3,0\xa0MB" in page
    assert "8\xa0Bytes von 7,0\xa0MB" in page


def test_a_new_students_first_visit_creates_their_folder_in_bounded_queries(
    files, client_for, django_assert_max_num_queries
):
    client = client_for(files.classmate_7a)
    client.get("/")  # the session and the caches as after the dashboard; no space yet
    assert not Space.objects.for_school(files.school).filter(user=files.classmate_7a).exists()
    # The user, their groups, the spaces; the new space, its root and the root's path.
    with django_assert_max_num_queries(8):
        first = client.get(reverse("files:home")).content.decode()
    root = services.root_of(services.personal_space(files.classmate_7a))
    assert reverse("files:folder", args=[root.pk]) in first
    assert _without_tokens(first) == _without_tokens(client.get(reverse("files:home")).content)


def test_the_files_page_reads_its_share_versions_with_the_pages_keys(
    files, client_for, cache_reads
):
    from kreide.status.services import INCIDENTS_KEY

    client = client_for(files.student_7a)
    client.get(reverse("files:home"))  # the share ids cached
    cache_reads.clear()
    assert client.get(reverse("files:home")).status_code == 200
    versions = {
        f"fragver:user:{files.student_7a.pk}:shares",
        f"fragver:group:{files.class_7a.pk}:shares",
    }
    with_versions = [keys for _kind, keys in cache_reads if versions & set(keys)]
    assert len(with_versions) == 1 and versions | {INCIDENTS_KEY} <= set(with_versions[0])
    assert not [keys for _kind, keys in cache_reads if INCIDENTS_KEY in keys][1:]
    # The share ids under those versions: with Redis in that same round trip, else in one
    # more.
    entries = [keys for _kind, keys in cache_reads if any(k.startswith("frag:") for k in keys)]
    assert len(entries) == 1, cache_reads
    assert (entries[0] is with_versions[0]) == redis_reads_entries_at_once(), cache_reads


def test_a_first_visit_writes_the_users_share_fragments_in_one_round_trip(
    files, client_for, monkeypatch
):
    """The user's new share version and the share ids under it go out together (one
    pipeline), not one write each."""
    client = client_for(files.student_7b)
    batched, direct, inside = [], [], []
    backend, write = caches["default"], fragments._write
    set_many = backend.set_many

    def counted_write(held):
        batched.append({key for values in held.values() for key in values})
        inside.append(True)
        try:
            write(held)
        finally:
            inside.pop()

    def counted_set_many(values, *args, **kwargs):
        if not inside:
            direct.extend(values)
        return set_many(values, *args, **kwargs)

    monkeypatch.setattr(fragments, "_write", counted_write)
    monkeypatch.setattr(backend, "set_many", counted_set_many)
    client.get(reverse("files:home"))
    own = f"user:{files.student_7b.pk}:shares"
    written = [sorted(key for key in keys if own in key) for keys in batched]
    assert [len(keys) for keys in written if keys] == [2]  # the version and the entry
    assert not [key for key in direct if own in key]
    # The navigation's unread messages, counted while the page rendered, go with them.
    assert [unread_key(files.student_7b.pk) in keys for keys in batched] == [True]


def test_teacher_grants_write_to_a_student(files, client_for):
    url = reverse("files:writers", args=[files.class_7a.pk])
    assert client_for(files.student_7a).get(url).status_code == 404
    client_for(files.teacher_7a).post(url, {"writer": [files.student_7a.pk, files.student_7b.pk]})
    assert Actor(files.student_7a).level(files.class_file) == services.Level.WRITE
    assert Actor(files.student_7b).level(files.class_file) == services.Level.NONE


def test_app_password_is_shown_once_and_stored_hashed(files, client_for):
    response = client_for(files.student_7a).post(reverse("files:app_passwords"), {"name": "Laptop"})
    page = response.content.decode()
    secret = page.split('id="new-app-password">')[1].split("<")[0]
    entry = AppPassword.unscoped.get()
    assert secret not in entry.secret_sha256 and len(entry.secret_sha256) == 64


def test_dashboard_section_costs_the_same_queries_for_many_shares(
    files, rf, django_assert_num_queries
):
    from kreide.files.dashboard import shared_with_me
    from kreide.schools.access import memberships_of

    request = rf.get("/")
    request.user = files.student_7b
    memberships_of(request)  # loaded once per request for every dashboard section
    with django_assert_num_queries(1):  # the ids of shares with the user and their groups
        assert shared_with_me(request)["shares"] == []
    with django_assert_num_queries(0):  # nothing shared: from the cache, no query
        assert shared_with_me(request)["shares"] == []
    actor = Actor(files.student_7a)
    for number in range(8):
        node = services.add_file(actor, files.student_root, f"f{number}.txt", store_bytes(b"x"))
        services.share(actor, node, group=files.class_7b)
    with django_assert_num_queries(2):  # the class's share ids anew, then the shares
        assert len(shared_with_me(request)["shares"]) == 5
    with django_assert_num_queries(1):
        assert len(shared_with_me(request)["shares"]) == 5


def test_a_new_share_shows_on_the_dashboard_at_once(files, client_for):
    reader = client_for(files.student_7b)
    assert "Tagebuch.txt" not in reader.get(reverse("dashboard:home")).content.decode()
    owner = client_for(files.student_7a)
    url = reverse("files:share", args=[files.private_file.pk])
    owner.post(url, {"group": files.class_7b.pk})
    assert "Tagebuch.txt" in reader.get(reverse("dashboard:home")).content.decode()
    # Renamed or trashed, the cached ids change nothing: the shares themselves are read.
    services.rename(Actor(files.student_7a), files.private_file, "Notizen.txt")
    assert "Notizen.txt" in reader.get(reverse("dashboard:home")).content.decode()
    services.trash(Actor(files.student_7a), files.private_file)
    assert "Notizen.txt" not in reader.get(reverse("dashboard:home")).content.decode()
    # Shared with one person: they see it at once, their classmates do not.
    other = services.add_file(
        Actor(files.student_7a), files.student_root, "Brief.txt", store_bytes(b"x")
    )
    owner.post(reverse("files:share", args=[other.pk]), {"username": files.student_7b.username})
    assert "Brief.txt" in reader.get(reverse("dashboard:home")).content.decode()


def test_a_share_written_without_the_service_shows_at_once(files, client_for):
    """Share rows feed the cached share ids (declared in apps.py), whoever writes them."""
    reader = client_for(files.student_7b)
    assert "Tagebuch.txt" not in reader.get(reverse("dashboard:home")).content.decode()
    Share.objects.for_school(files.school).create(
        school=files.school, node=files.private_file, group=files.class_7b
    )
    assert "Tagebuch.txt" in reader.get(reverse("dashboard:home")).content.decode()


def test_purge_command(files, capsys):
    from django.core.management import call_command

    services.trash(Actor(files.student_7a), files.private_file)
    call_command("purge_file_trash", "--days", "0")
    assert "1 " in capsys.readouterr().out
    assert not Node.unscoped.filter(pk=files.private_file.pk).exists()


def test_a_writable_share_does_not_allow_sharing_further(files, client_for):
    Share.objects.for_school(files.school).create(
        school=files.school, node=files.private_file, user=files.student_7b, can_write=True
    )
    client = client_for(files.student_7b)
    assert (
        client.post(
            reverse("files:rename", args=[files.private_file.pk]), {"name": "Neu.txt"}
        ).status_code
        == 302
    )
    assert client.get(reverse("files:share", args=[files.private_file.pk])).status_code == 403
    assert (
        client.post(
            reverse("files:create_link", args=[files.private_file.pk]), {"days": 3}
        ).status_code
        == 403
    )
    assert not PublicLink.unscoped.exists()
