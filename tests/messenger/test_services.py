"""Rooms in step with the roster, sending rules, read state and the direct-message policy."""

import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kreide.core.models import AuditEntry
from kreide.messenger import services
from kreide.messenger.models import Message, Room, RoomMember
from kreide.messenger.services import MessengerError, NotFound
from kreide.schools import events as school_events
from kreide.schools.models import Membership


def _send(user, room, text="Hallo", key=None):
    return services.send_message(user, room.pk, text, key or uuid.uuid4().hex)


def test_class_room_follows_the_roster(world, rooms, make_user):
    members = dict(
        RoomMember.objects.for_school(world.school)
        .filter(room=rooms.class_7a)
        .values_list("user_id", "role")
    )
    assert members == {
        world.teacher_7a.pk: RoomMember.Role.MODERATOR,
        world.student_7a.pk: RoomMember.Role.MEMBER,
        world.classmate_7a.pk: RoomMember.Role.MEMBER,
    }
    Membership.objects.for_school(world.school).filter(user=world.classmate_7a).delete()
    newcomer = make_user(world.school, groups=(world.class_7a,))
    services.sync_group_room(world.class_7a)
    member_ids = set(
        RoomMember.objects.for_school(world.school)
        .filter(room=rooms.class_7a)
        .values_list("user_id", flat=True)
    )
    assert member_ids == {world.teacher_7a.pk, world.student_7a.pk, newcomer.pk}


@pytest.mark.django_db(transaction=True)
def test_roster_events_sync_the_rooms(world, rooms, make_user, make_group):
    newcomer = make_user(world.school, groups=(world.class_7b,))
    school_events.membership_changed.publish(
        school_id=world.school.pk,
        group_id=world.class_7b.pk,
        added=[newcomer.pk],
        removed=[],
        teachers=[world.teacher_7b.pk],
    )
    assert (
        RoomMember.objects.for_school(world.school)
        .filter(room=rooms.class_7b, user=newcomer)
        .exists()
    )
    band = make_group(world.school, "Schulband", kind="workgroup", grade=None)
    school_events.group_created.publish(school_id=world.school.pk, group_id=band.pk)
    assert Room.objects.for_school(world.school).get(group=band).name == "Schulband"


def test_sync_command_creates_every_class_room(world):
    call_command("messenger_sync_rooms", "--school", world.school.slug, stdout=None)
    names = set(Room.objects.for_school(world.school).values_list("name", flat=True))
    assert names == {"7a", "7b"}
    assert not Room.objects.for_school(world.other_school).exists()


def test_demo_seed_gives_classes_rooms_and_a_first_message(world):
    import random

    from kreide.messenger import demo

    demo.seed(world.school, random.Random(1))
    room = Room.objects.for_school(world.school).get(group=world.class_7a)
    message = Message.objects.for_school(world.school).get(room=room)
    assert message.author == world.teacher_7a


def test_text_is_sanitized_and_links_are_clickable():
    html = services.render_text("<script>alert(1)</script> siehe https://example.org/a?b=1\nZeile")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<a href="https://example.org/a?b=1" rel="noopener nofollow">' in html
    assert "<br>" in html
    assert 'href="javascript' not in services.render_text("javascript:alert(1)")


def test_a_retried_send_is_stored_once(world, rooms):
    first = _send(world.student_7a, rooms.class_7a, key="abcdefgh-1")
    again = _send(world.student_7a, rooms.class_7a, key="abcdefgh-1")
    assert first.created and not again.created
    assert first.message["id"] == again.message["id"]
    assert Message.objects.for_school(world.school).count() == 1


def test_refusals(world, rooms, settings):
    with pytest.raises(NotFound):
        _send(world.student_7b, rooms.class_7a)
    with pytest.raises(NotFound):
        _send(world.other_student, rooms.class_7a)
    with pytest.raises(MessengerError) as error:
        _send(world.student_7a, rooms.class_7a, text="x" * (services.MAX_MESSAGE_LENGTH + 1))
    assert error.value.code == "too_long"
    assert "4000 Zeichen" in str(error.value.message)
    with pytest.raises(MessengerError) as error:
        _send(world.student_7a, rooms.class_7a, text="   ")
    assert error.value.code == "empty"
    with pytest.raises(MessengerError):
        services.send_message(world.student_7a, rooms.class_7a.pk, "Hallo", "kurz")
    settings.MESSENGER_RATE_LIMIT = 3
    for number in range(3):
        _send(world.student_7a, rooms.class_7a, text=f"Nachricht {number}")
    with pytest.raises(MessengerError) as error:
        _send(world.student_7a, rooms.class_7a, text="eine zu viel")
    assert error.value.code == "rate_limited"
    assert str(error.value.message).startswith("Zu viele Nachrichten auf einmal")
    assert Message.objects.for_school(world.school).count() == 3


def test_moderation_mute_read_only_and_delete(world, rooms):
    services.set_muted(world.teacher_7a, rooms.class_7a.pk, world.student_7a.pk, True)
    with pytest.raises(MessengerError) as error:
        _send(world.student_7a, rooms.class_7a)
    assert error.value.code == "muted"
    with pytest.raises(MessengerError):
        services.set_muted(world.classmate_7a, rooms.class_7a.pk, world.student_7a.pk, False)
    services.set_read_only(world.teacher_7a, rooms.class_7a.pk, True)
    with pytest.raises(MessengerError) as error:
        _send(world.classmate_7a, rooms.class_7a)
    assert error.value.code == "read_only"
    announcement = _send(world.teacher_7a, rooms.class_7a, text="Morgen frei")
    services.set_read_only(world.teacher_7a, rooms.class_7a.pk, False)
    own = _send(world.classmate_7a, rooms.class_7a, text="Danke")
    with pytest.raises(MessengerError):
        services.delete_message(world.classmate_7a, announcement.message["id"])
    with pytest.raises(MessengerError):
        services.edit_message(world.teacher_7a, own.message["id"], "geändert")
    edited = services.edit_message(world.classmate_7a, own.message["id"], "Danke schön")
    assert edited["text"] == "Danke schön" and edited["edited"]
    removed = services.delete_message(world.teacher_7a, own.message["id"])
    assert removed["deleted"] and removed["text"] == "" and removed["html"] == ""
    # Moderation is audited (refused attempts and authors' own deletions are not).
    audited = AuditEntry.objects.for_school(world.school).order_by("pk")
    assert [(e.action, e.actor_id, e.target_id) for e in audited] == [
        ("messenger.muted", world.teacher_7a.pk, str(world.student_7a.pk)),
        ("messenger.read_only", world.teacher_7a.pk, str(rooms.class_7a.pk)),
        ("messenger.read_only", world.teacher_7a.pk, str(rooms.class_7a.pk)),
        ("messenger.message_removed", world.teacher_7a.pk, str(world.classmate_7a.pk)),
    ]


def test_unread_counts_read_state_and_bounded_queries(world, rooms):
    for number in range(3):
        _send(world.teacher_7a, rooms.class_7a, text=f"Aufgabe {number}")
    direct = services.open_direct(world.teacher_7a, world.student_7a)
    last = _send(world.teacher_7a, direct, text="Kommst du klar?")
    with CaptureQueriesContext(connection) as queries:
        counts = {m.room_id: m.unread for m in services.rooms_for(world.student_7a)}
    assert len(queries) == 1
    assert counts == {rooms.class_7a.pk: 3, direct.pk: 1}
    services.mark_read(world.student_7a, direct.pk, last.message["id"] + 1000)
    counts = {m.room_id: m.unread for m in services.rooms_for(world.student_7a)}
    assert counts == {rooms.class_7a.pk: 3, direct.pk: 0}
    own = services.rooms_for(world.teacher_7a)
    assert [m.unread for m in own] == [0, 0]  # one's own messages count as read


def test_paging_and_catch_up(world, rooms):
    ids = [_send(world.teacher_7a, rooms.class_7a, text=f"Nr {n}").message["id"] for n in range(7)]
    member = services.member_of(world.student_7a, rooms.class_7a.pk)
    newest, more = services.messages_before(member, None, limit=3)
    assert [m["id"] for m in newest] == ids[:-4:-1] and more
    older, more = services.messages_before(member, newest[-1]["id"], limit=3)
    assert [m["id"] for m in older] == ids[-4:-7:-1] and more
    missed, more = services.messages_after(member, ids[2], limit=3)
    assert [m["id"] for m in missed] == ids[3:6] and more
    missed, more = services.messages_after(member, ids[5], limit=3)
    assert [m["id"] for m in missed] == ids[6:] and not more


def test_search_stays_in_the_room(world, rooms):
    _send(world.teacher_7a, rooms.class_7a, text="Die Klassenarbeit ist am Montag")
    _send(world.teacher_7b, rooms.class_7b, text="Klassenarbeit in 7b")
    found = services.search(services.member_of(world.student_7a, rooms.class_7a.pk), "klassen")
    assert [m.body for m in found] == ["Die Klassenarbeit ist am Montag"]


def test_direct_message_policy(world):
    assert services.can_message_directly(world.student_7a, world.teacher_7b)
    assert services.can_message_directly(world.student_7a, world.student_7b)
    assert not services.can_message_directly(world.student_7a, world.other_student)
    assert not services.can_message_directly(world.teacher_7a, world.other_teacher)
    room = services.open_direct(world.student_7a, world.classmate_7a)
    _send(world.student_7a, room, text="Hast du die Hausaufgabe?")
    world.school.student_direct_messages = False
    world.school.save()
    student = type(world.student_7a).objects.get(pk=world.student_7a.pk)
    with pytest.raises(MessengerError) as error:
        _send(student, room, text="Noch da?")
    assert error.value.code == "not_allowed"
    with pytest.raises(MessengerError):
        services.open_direct(student, world.student_7b)
    services.open_direct(student, world.teacher_7b)  # students may always write to teachers
    names = {u.pk for u in services.direct_candidates(student, "")}
    assert world.teacher_7b.pk in names and world.admin.pk in names
    assert world.classmate_7a.pk not in names and world.other_teacher.pk not in names


def test_a_deactivated_class_closes_its_room_until_it_returns(
    world, rooms, deactivate, django_capture_on_commit_callbacks
):
    services.send_message(world.student_7a, rooms.class_7a.pk, "Hallo", client_key="key-0001")
    with django_capture_on_commit_callbacks(execute=True):
        deactivate(world.class_7a)
    for who in (world.student_7a, world.teacher_7a):
        with pytest.raises(NotFound):
            services.member_of(who, rooms.class_7a.pk)
        assert rooms.class_7a.pk not in services.room_ids_for(who)
    with pytest.raises(NotFound):  # nor can a teacher build a room from it
        services.create_room(world.teacher_7a, "AG", [world.class_7a])
    from kreide.schools.services import set_group_active

    with django_capture_on_commit_callbacks(execute=True):
        set_group_active(world.admin, world.class_7a, True)
    member = services.member_of(world.student_7a, rooms.class_7a.pk)
    assert [m["text"] for m in services.messages_after(member, 0)[0]] == ["Hallo"]


def test_teacher_creates_a_room_from_classes(world):
    room = services.create_room(world.teacher_7a, "Theater-AG", [world.class_7a])
    roles = dict(
        RoomMember.objects.for_school(world.school).filter(room=room).values_list("user_id", "role")
    )
    assert roles[world.teacher_7a.pk] == RoomMember.Role.MODERATOR
    assert set(roles) == {world.teacher_7a.pk, world.student_7a.pk, world.classmate_7a.pk}
    with pytest.raises(MessengerError):
        services.create_room(world.student_7a, "Meine AG", [world.class_7a])
    with pytest.raises(NotFound):
        services.create_room(world.teacher_7a, "Fremd", [world.other_class])
