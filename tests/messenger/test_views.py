"""The messenger over HTTP: pages, the JSON endpoints of the polling fallback, moderation,
direct messages and attachments, each across classes and schools."""

import base64
import json
import re
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.safestring import mark_safe

from kreide.messenger import services
from kreide.messenger.models import Attachment, Message, RoomMember
from kreide.messenger.templatetags import messenger_tags
from tests.visible import shows

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def _post_json(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def _send(client, room, text, key):
    return _post_json(client, reverse("messenger:send", args=[room.pk]), {"text": text, "key": key})


def test_room_pages_only_for_members(world, rooms, client_for):
    url = reverse("messenger:room", args=[rooms.class_7a.pk])
    page = client_for(world.student_7a).get(url)
    assert page.status_code == 200
    assert shows(page.content, "7a")
    assert 'data-ws-url="ws://testserver:8001/ws/messenger/"' in page.content.decode()
    assert client_for(world.student_7b).get(url).status_code == 404
    assert client_for(world.other_admin).get(url).status_code == 404
    assert client_for(world.admin).get(url).status_code == 404  # not a member of the class
    listing = client_for(world.student_7a).get(reverse("messenger:index")).content.decode()
    # Room names as link texts: a random CSRF token may contain "7b" too.
    assert ">7a</a>" in listing and ">7b</a>" not in listing


@pytest.mark.parametrize("who", ["parent_7a", "parent_7b"])
def test_parents_are_in_no_class_room(world, parents, rooms, client_for, who):
    """The class room is the class's: a parent (of a 7a student, too) neither reads nor
    writes there; they write to teachers directly (tests/parents/test_matrix.py)."""
    sent = services.send_message(world.teacher_7a, rooms.class_7a.pk, "Elternabend", "par-0001")
    message_id = sent.message["id"]
    client = client_for(getattr(world, who))
    listing = client.get(reverse("messenger:index"))
    assert listing.status_code == 200
    assert ">7a</a>" not in listing.content.decode() and ">7b</a>" not in listing.content.decode()
    for room in (rooms.class_7a, rooms.class_7b):
        for name in ("room", "messages", "search", "members"):
            response = client.get(reverse(f"messenger:{name}", args=[room.pk]), {"q": "Eltern"})
            assert response.status_code == 404, (name, response.status_code)
            assert b"Elternabend" not in response.content
        send = _send(client, room, "Hallo", f"par-{room.pk:04d}")
        assert send.status_code in (403, 404)
        read = _post_json(client, reverse("messenger:read", args=[room.pk]), {"upto": message_id})
        assert read.status_code in (403, 404)
        muted = client.post(reverse("messenger:notifications", args=[room.pk]), {"off": "1"})
        assert muted.status_code in (403, 404)
    for name in ("edit", "delete"):
        url = reverse(f"messenger:{name}", args=[message_id])
        response = _post_json(client, url, {"text": "x"})
        assert response.status_code in (403, 404)
    assert Message.objects.for_school(world.school).count() == 1
    kept = Message.objects.for_school(world.school).get()
    assert kept.body == "Elternabend" and kept.deleted_at is None
    assert not RoomMember.objects.for_school(world.school).filter(user=getattr(world, who)).exists()


def test_send_over_http_is_idempotent_and_checked(world, rooms, client_for):
    student = client_for(world.student_7a)
    first = _send(student, rooms.class_7a, "Hallo <b>Klasse</b>", "http-key-0001")
    assert first.status_code == 201
    assert first.json()["message"]["html"] == "Hallo &lt;b&gt;Klasse&lt;/b&gt;"
    again = _send(student, rooms.class_7a, "Hallo <b>Klasse</b>", "http-key-0001")
    assert (
        again.status_code == 200 and again.json()["message"]["id"] == first.json()["message"]["id"]
    )
    assert (
        _send(client_for(world.student_7b), rooms.class_7a, "x", "http-key-0002").status_code == 404
    )
    assert (
        _send(client_for(world.other_student), rooms.class_7a, "x", "http-key-0003").status_code
        == 404
    )
    too_long = _send(student, rooms.class_7a, "x" * 4001, "http-key-0004")
    assert too_long.status_code == 400
    assert too_long.json()["message"] == "Eine Nachricht darf höchstens 4000 Zeichen haben."
    assert Message.objects.for_school(world.school).count() == 1


def test_history_and_catch_up_json(world, rooms, client_for):
    ids = [
        services.send_message(
            world.teacher_7a, rooms.class_7a.pk, f"Nr {n}", f"hist-{n:04d}"
        ).message["id"]
        for n in range(3)
    ]
    student = client_for(world.student_7a)
    url = reverse("messenger:messages", args=[rooms.class_7a.pk])
    assert [m["id"] for m in student.get(url).json()["messages"]] == ids[::-1]
    assert [m["id"] for m in student.get(url, {"after": ids[0]}).json()["messages"]] == ids[1:]
    assert [m["id"] for m in student.get(url, {"before": ids[2]}).json()["messages"]] == ids[1::-1]
    assert student.get(url, {"after": "x"}).status_code == 400
    assert client_for(world.other_teacher).get(url).status_code == 404
    read = _post_json(
        student, reverse("messenger:read", args=[rooms.class_7a.pk]), {"upto": ids[-1]}
    )
    assert read.json() == {"upto": ids[-1]}


def test_edit_and_delete_over_http(world, rooms, client_for):
    own = services.send_message(world.student_7a, rooms.class_7a.pk, "Tippfehlr", "edit-0001")
    message_id = own.message["id"]
    classmate = client_for(world.classmate_7a)
    assert (
        _post_json(
            classmate, reverse("messenger:edit", args=[message_id]), {"text": "gehackt"}
        ).status_code
        == 403
    )
    assert (
        _post_json(classmate, reverse("messenger:delete", args=[message_id]), {}).status_code == 403
    )
    assert (
        _post_json(
            client_for(world.other_teacher), reverse("messenger:delete", args=[message_id]), {}
        ).status_code
        == 404
    )
    edited = _post_json(
        client_for(world.student_7a),
        reverse("messenger:edit", args=[message_id]),
        {"text": "Tippfehler"},
    )
    assert edited.json()["message"]["text"] == "Tippfehler"
    deleted = _post_json(
        client_for(world.teacher_7a), reverse("messenger:delete", args=[message_id]), {}
    )
    assert deleted.json()["message"]["deleted"] is True


def test_search_fragment(world, rooms, client_for):
    services.send_message(
        world.teacher_7a, rooms.class_7a.pk, "Wandertag am Freitag", "search-0001"
    )
    url = reverse("messenger:search", args=[rooms.class_7a.pk])
    found = client_for(world.student_7a).get(url, {"q": "wandertag"}).content.decode()
    assert "Wandertag am Freitag" in found and "1 Nachricht gefunden" in found
    assert client_for(world.student_7b).get(url, {"q": "wandertag"}).status_code == 404


def test_moderation_page(world, rooms, client_for):
    url = reverse("messenger:members", args=[rooms.class_7a.pk])
    assert client_for(world.student_7a).get(url).status_code == 404
    teacher = client_for(world.teacher_7a)
    teacher.post(url, {"mute": world.student_7a.pk, "muted": "1"})
    assert (
        RoomMember.objects.for_school(world.school)
        .get(room=rooms.class_7a, user=world.student_7a)
        .muted
    )
    refused = _send(client_for(world.student_7a), rooms.class_7a, "Hallo", "muted-0001")
    assert refused.status_code == 403
    assert (
        refused.json()["message"]
        == "In diesem Raum ist das Schreiben durch die Moderation gesperrt."
    )
    teacher.post(url, {"read_only": "1"})
    page = client_for(world.classmate_7a).get(reverse("messenger:room", args=[rooms.class_7a.pk]))
    assert "Nur die Moderation darf in diesem Raum schreiben." in page.content.decode()
    assert 'class="chat-compose"' not in page.content.decode()


def test_direct_messages_over_http(world, client_for):
    student = client_for(world.student_7a)
    found = student.get(reverse("messenger:direct_search"), {"q": world.teacher_7b.last_name})
    assert world.teacher_7b.get_full_name() in found.content.decode()
    other = student.get(reverse("messenger:direct_search"), {"q": world.other_teacher.last_name})
    assert world.other_teacher.get_full_name() not in other.content.decode()
    opened = student.post(reverse("messenger:direct_open", args=[world.teacher_7b.pk]))
    assert opened.status_code == 302
    assert student.get(opened["Location"]).status_code == 200
    assert client_for(world.teacher_7a).get(opened["Location"]).status_code == 404
    assert (
        student.post(reverse("messenger:direct_open", args=[world.other_teacher.pk])).status_code
        == 404
    )
    world.school.student_direct_messages = False
    world.school.save()
    refused = student.post(
        reverse("messenger:direct_open", args=[world.classmate_7a.pk]), follow=True
    )
    assert "Die Schule erlaubt diese direkte Unterhaltung nicht." in refused.content.decode()


def test_teacher_creates_room_student_cannot(world, client_for):
    assert client_for(world.student_7a).get(reverse("messenger:create")).status_code == 404
    teacher = client_for(world.teacher_7a)
    offered = teacher.get(reverse("messenger:create")).context["form"].fields["groups"].queryset
    assert list(offered) == [world.class_7a]  # only the classes the teacher teaches
    created = teacher.post(
        reverse("messenger:create"), {"name": "Elternabend", "groups": [world.class_7a.pk]}
    )
    assert created.status_code == 302
    assert client_for(world.student_7a).get(created["Location"]).status_code == 200
    sneaky = teacher.post(reverse("messenger:create"), {"name": "X", "groups": [world.class_7b.pk]})
    assert sneaky.status_code == 200  # refused by the form: not one of the teacher's classes


def test_dashboard_section_and_navigation(world, rooms, client_for):
    services.send_message(world.teacher_7a, rooms.class_7a.pk, "Bitte lesen", "dash-0001")
    page = client_for(world.student_7a).get(reverse("dashboard:home")).content.decode()
    assert "1 ungelesene Nachricht" in page
    assert f'href="{reverse("messenger:index")}"' in page


def test_dashboard_names_a_direct_room_by_the_other_person(world, rooms, client_for):
    room = services.open_direct(world.teacher_7a, world.student_7a)
    services.send_message(world.teacher_7a, room.pk, "Kurze Frage", "dash-direct-01")
    services.send_message(world.teacher_7a, rooms.class_7a.pk, "An alle", "dash-direct-02")
    page = client_for(world.student_7a).get(reverse("dashboard:home")).content.decode()
    section = page.split("2 ungelesene Nachrichten", 1)[1].split("</ul>", 1)[0]
    direct = f'href="{reverse("messenger:room", args=[room.pk])}">{world.teacher_7a}</a>'
    assert direct in section
    assert f'href="{reverse("messenger:room", args=[rooms.class_7a.pk])}">7a</a>' in section


def _meta(**values):
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def _upload(client, room, data=b"Arbeitsblatt", filename="Blatt 1.pdf"):
    created = client.post(
        "/uploads/",
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA=_meta(
            filename=filename,
            filetype="application/pdf",
            purpose="message-attachment",
            room=room.pk,
        ),
        **TUS,
    )
    if created.status_code != 201:
        return created
    return client.generic(
        "PATCH",
        urlsplit(created["Location"]).path,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
        **TUS,
    )


@pytest.fixture
def _blobs(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "blobs"


def test_attachments_across_classes_and_schools(world, rooms, client_for, _blobs):
    assert _upload(client_for(world.student_7b), rooms.class_7a).status_code == 404
    assert _upload(client_for(world.other_student), rooms.class_7a).status_code == 404
    student = client_for(world.student_7a)
    finished = _upload(student, rooms.class_7a)
    assert finished.status_code == 204
    result = json.loads(finished["Kreide-Upload-Result"])
    attachment = Attachment.objects.for_school(world.school).get(pk=result["id"])
    url = reverse("messenger:attachment", args=[attachment.pk])
    # Not yet sent: only the uploader sees it.
    assert client_for(world.classmate_7a).get(url).status_code == 404
    sent = _post_json(
        student,
        reverse("messenger:send", args=[rooms.class_7a.pk]),
        {"text": "", "key": "attach-0001", "attachment": attachment.pk},
    )
    assert sent.status_code == 201
    assert sent.json()["message"]["attachment"]["name"] == "Blatt 1.pdf"
    download = client_for(world.classmate_7a).get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"Arbeitsblatt"
    assert client_for(world.student_7b).get(url).status_code == 404
    assert client_for(world.other_admin).get(url).status_code == 404
    # An attachment is used once, by its uploader, in its room.
    reuse = _post_json(
        client_for(world.classmate_7a),
        reverse("messenger:send", args=[rooms.class_7a.pk]),
        {"text": "auch", "key": "attach-0002", "attachment": attachment.pk},
    )
    assert reuse.status_code == 400


def test_oversized_attachment_is_refused_before_upload(world, rooms, client_for, _blobs, settings):

    settings.MESSENGER_MAX_ATTACHMENT_BYTES = 10
    refused = _upload(client_for(world.student_7a), rooms.class_7a, data=b"x" * 11)
    assert refused.status_code == 413


def test_catch_up_brings_edits_and_deletions_of_messages_already_seen(world, rooms, client_for):
    """A polling or reconnecting client has seen messages 1–3; meanwhile one is edited and
    one deleted by the teacher. Its next catch-up carries both changes with the new one."""
    room = rooms.class_7a.pk
    ids = [
        services.send_message(world.student_7a, room, f"Nr {n}", f"seen-{n:04d}").message["id"]
        for n in range(3)
    ]
    student = client_for(world.student_7a)
    url = reverse("messenger:messages", args=[room])
    first = student.get(url, {"after": 0}).json()
    assert [m["id"] for m in first["messages"]] == ids and first["changed"] == []

    services.edit_message(world.student_7a, ids[0], "Nr 0, korrigiert")
    services.delete_message(world.teacher_7a, ids[1])
    new = services.send_message(world.teacher_7a, room, "Neu", "seen-new1").message["id"]
    later = student.get(url, {"after": ids[-1], "since": first["now"]}).json()

    assert [m["id"] for m in later["messages"]] == [new]
    assert [(m["id"], m["text"], m["deleted"]) for m in later["changed"]] == [
        (ids[0], "Nr 0, korrigiert", False),
        (ids[1], "", True),
    ]
    # Without a time, or with a broken one, no changes (and no error).
    assert student.get(url, {"after": ids[-1]}).json()["changed"] == []
    for broken in ("gestern", "2026-13-45T00:00:00+00:00", "2026-11-25T08:00:00"):
        assert student.get(url, {"after": ids[-1], "since": broken}).json()["changed"] == []
    # Another class's member learns nothing of the room.
    assert (
        client_for(world.student_7b).get(url, {"after": 0, "since": first["now"]}).status_code
        == 404
    )


DEEP = "[" * 100_000 + "]" * 100_000


def test_hostile_json_and_huge_ids_are_a_400_not_a_500(world, rooms, client_for):
    student = client_for(world.student_7a)
    sent = _send(student, rooms.class_7a, "Hallo", "key-hostile-1").json()["message"]
    room = rooms.class_7a.pk
    for url in (
        reverse("messenger:send", args=[room]),
        reverse("messenger:read", args=[room]),
        reverse("messenger:edit", args=[sent["id"]]),
    ):
        for body in (DEEP, '{"text": ' * 50 + '"x"' + "}" * 50, '{"text": NaN}', "\xff"):
            answer = student.post(url, body, content_type="application/json")
            assert answer.status_code == 400, (url, body[:20])
            assert answer.json()["error"] == "bad_request"
    for body in ({"upto": 2**63}, {"upto": -1}):
        assert _post_json(student, reverse("messenger:read", args=[room]), body).status_code == 400
    too_big = {"text": "x", "key": "key-hostile-2", "attachment": 2**64}
    assert _post_json(student, reverse("messenger:send", args=[room]), too_big).status_code == 400
    history = reverse("messenger:messages", args=[room])
    assert student.get(history, {"after": str(2**64)}).status_code == 400
    assert student.get(history, {"before": "9" * 30}).status_code == 400
    assert student.get(f"/messages/rooms/{2**63}/").status_code == 404
    assert Message.objects.for_school(world.school).count() == 1


def test_unread_messages_are_counted_in_the_navigation(world, rooms, client_for):
    student = client_for(world.student_7a)
    nav = '<a href="/messages/">Nachrichten <span class="count">2<span class="visually-hidden"> neu'
    assert "Nachrichten <span" not in student.get("/tasks/").content.decode()
    teacher = client_for(world.teacher_7a)
    _send(teacher, rooms.class_7a, "Guten Morgen!", "unread-key-01")
    _send(teacher, rooms.class_7a, "Heute Mathe.", "unread-key-02")
    # The count of the page before is kept for up to 30 seconds, then counted anew.
    assert "Nachrichten <span" not in student.get("/tasks/").content.decode()
    cache.delete(f"messenger:unread:{world.student_7a.pk}")
    page = student.get("/tasks/").content.decode()
    assert nav in page
    assert 'Menü <span class="count">2<span class="visually-hidden"> neu' in page
    # Counted once, then read from the cache: the next page costs no messenger query.
    with CaptureQueriesContext(connection) as captured:
        student.get("/tasks/")
    assert not [q for q in captured.captured_queries if "messenger_" in q["sql"]]
    # The author's own messages are not unread; reading the room clears the count at once.
    assert "Nachrichten <span" not in teacher.get("/tasks/").content.decode()
    latest = Message.objects.for_school(world.school).latest("pk").pk
    _post_json(student, reverse("messenger:read", args=[rooms.class_7a.pk]), {"upto": latest})
    assert "Nachrichten <span" not in student.get("/tasks/").content.decode()


def test_the_dashboard_counts_the_navigations_unread_messages_with_its_own(
    world, rooms, client_for
):
    student = client_for(world.student_7a)
    teacher = client_for(world.teacher_7a)
    _send(teacher, rooms.class_7a, "Guten Morgen!", "unread-key-03")
    _send(teacher, rooms.class_7a, "Heute Mathe.", "unread-key-04")
    cache.delete(f"messenger:unread:{world.student_7a.pk}")
    with CaptureQueriesContext(connection) as captured:
        page = student.get("/").content.decode()
    nav = '<a href="/messages/">Nachrichten <span class="count">2<span class="visually-hidden"> neu'
    assert nav in page
    # The unread section's query, not a second count for the navigation.
    assert len([q for q in captured.captured_queries if "messenger_message" in q["sql"]]) == 1
    assert cache.get(f"messenger:unread:{world.student_7a.pk}") == 2


def _without_tokens(page: str) -> str:
    """The page with its CSRF tokens and CSP nonces blanked (they differ per response)."""
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": "|nonce=")[^"]+', r"\1", page)


def test_a_rooms_page_is_kept_for_who_may_do_the_same(world, rooms, client_for, monkeypatch):
    kept = messenger_tags.KeptMarkup(("csrf_token", "user_pk"), 64)
    monkeypatch.setattr(messenger_tags, "_KEPT", kept)
    url = reverse("messenger:room", args=[rooms.class_7a.pk])

    def page_of(who: str) -> str:
        user = getattr(world, who)
        page = client_for(user).get(url).content.decode()
        assert f'data-user="{user.pk}"' in page
        assert not [part for part in kept.stand_ins.values() if part in page]
        return page

    student, classmate, teacher = (page_of(w) for w in ("student_7a", "classmate_7a", "teacher_7a"))
    # The classmates share one rendering; the teacher, who moderates, has another.
    assert len(kept._rendered) == 2
    assert "/members/" in teacher and "/members/" not in student
    services.set_muted(world.teacher_7a, rooms.class_7a.pk, world.classmate_7a.pk, True)
    muted = page_of("classmate_7a")
    assert len(kept._rendered) == 3 and 'id="chat-text"' not in muted

    # Rendered with each request's own values in place of the stand-ins: the same pages.
    def rendered(key, render, **values):
        return mark_safe(render({k: str(v) for k, v in values.items()}))  # noqa: S308

    monkeypatch.setattr(kept, "get", rendered)
    for who, page in (("student_7a", student), ("teacher_7a", teacher), ("classmate_7a", muted)):
        assert _without_tokens(page_of(who)) == _without_tokens(page)
