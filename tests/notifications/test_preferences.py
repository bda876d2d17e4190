"""Per-source settings: a source set to "only in the list" is neither pushed nor mailed,
one turned off is not even listed, letters asking parents to confirm always reach them,
and the settings form refuses what it does not offer."""

import pytest
from django.core import mail
from django.urls import reverse

from kreide.notifications import delivery, digest, services, settings_services
from kreide.notifications.models import Notification, Preferences, Source
from tests.notifications.conftest import local
from tests.notifications.test_delivery import _subscribe

pytestmark = pytest.mark.django_db(transaction=True)
NOON = local(12)


def _texts(user) -> list[str]:
    found = Notification.objects.for_school(user.school_id).filter(user=user)
    return sorted(found.values_list("text", flat=True))


def _pushed(receiver, token: str) -> list[str]:
    return sorted(message["body"] for message in receiver.messages_for(token))


def _notify_each_source(world, user_ids: list[int]) -> None:
    for kind, text in (("message", "Nachricht"), ("video", "Video"), ("news", "Wandertag")):
        services.notify(world.school.pk, user_ids, kind, text)


def test_every_source_on_the_settings_page_has_kinds():
    """Each kind names its source; a source no kind names would be a choice that does
    nothing."""
    assert {kind.source for kind in Notification.Kind} == set(Source)
    assert Notification.Kind("letter").source == Source.NEWS


def test_a_quieted_source_is_listed_but_not_pushed_or_mailed(world, client_for, receiver, settings):
    settings.EMAIL_HOST = "mail.example.test"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    for who, token in ((world.student_7a, "kim"), (world.classmate_7a, "ali")):
        who.email = f"{token}@example.test"
        who.save()
        _subscribe(client_for(who), receiver, token)
    answer = client_for(world.student_7a).post(
        reverse("notifications:settings"),
        {
            "me-push": "on",
            "me-digest": "on",
            "me-source_messages": "list",
            "me-source_video": "off",
        },
    )
    assert answer.status_code == 302
    Preferences.objects.for_school(world.school).create(user=world.classmate_7a, digest=True)
    _notify_each_source(world, [world.student_7a.pk, world.classmate_7a.pk])
    delivery.work_until_empty(now=NOON)
    # Messages listed (the bell counts them) but not pushed; video not even listed.
    assert _texts(world.student_7a) == ["Nachricht", "Wandertag"]
    assert services.unread_count(world.student_7a) == 2
    assert _pushed(receiver, "kim") == ["Wandertag"]
    # The classmate kept the defaults: everything.
    assert _texts(world.classmate_7a) == ["Nachricht", "Video", "Wandertag"]
    assert _pushed(receiver, "ali") == ["Nachricht", "Video", "Wandertag"]
    assert digest.send_due(now=local(18)) == 2
    body = {sent.to[0]: sent.body for sent in mail.outbox}
    assert "Wandertag" in body["kim@example.test"]
    assert "Nachricht" not in body["kim@example.test"]
    assert "1 ungelesene" in next(m.subject for m in mail.outbox if m.to == ["kim@example.test"])
    assert all(text in body["ali@example.test"] for text in ("Nachricht", "Video", "Wandertag"))


def test_letters_reach_parents_whatever_they_chose_for_news(family, client_for, receiver):
    world = family
    client = client_for(world.parent)
    _subscribe(client, receiver, "mum")
    page = client.get(reverse("notifications:settings")).content.decode()
    assert "die Schule braucht Ihre Antwort" in page  # why letters stay on
    # The sources' own words, not the messenger's or the news page's.
    assert "Nachrichten im Messenger" in page and "Neuigkeiten und Elternbriefe" in page
    answer = client.post(
        reverse("notifications:settings"), {"me-push": "on", "me-source_news": "off"}
    )
    assert answer.status_code == 302
    for kind, text in (
        ("news", "Sportfest"),
        ("letter", "Brief"),
        ("letter_reminder", "Erinnerung"),
    ):
        services.notify(world.school.pk, [world.parent.pk, world.teacher_7a.pk], kind, text)
    delivery.work_until_empty(now=NOON)
    assert _texts(world.parent) == ["Brief", "Erinnerung"]
    assert _pushed(receiver, "mum") == ["Brief", "Erinnerung"]
    # Only for parents: a teacher who turns news off gets no letter either.
    settings_services.save_preferences(
        world.teacher_7a, live=True, push=True, digest=False, levels={Source.NEWS: "off"}
    )
    services.notify(world.school.pk, [world.teacher_7a.pk], "letter", "Zweiter Brief")
    assert "Zweiter Brief" not in _texts(world.teacher_7a)
    assert "die Schule braucht Ihre Antwort" not in (
        client_for(world.teacher_7a).get(reverse("notifications:settings")).content.decode()
    )


def test_the_form_refuses_a_level_it_does_not_offer(world, client_for):
    client = client_for(world.student_7a)
    client.post(reverse("notifications:settings"), {"me-push": "on", "me-source_messages": "list"})
    answer = client.post(
        reverse("notifications:settings"),
        {"me-source_messages": "laut", "me-source_video": "off"},
    )
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "Bitte eine gültige Auswahl treffen" in page and "laut" in page
    assert 'value="off" selected' in page  # what was typed is kept
    pref = settings_services.preferences_of(world.student_7a)
    assert pref.push and pref.level(Source.MESSAGES) == "list"  # nothing half-saved
    assert pref.level(Source.VIDEO) == "all"


def test_leaving_sources_out_keeps_them(world, client_for):
    """An older form (or a script) posting only the channels changes no source."""
    client = client_for(world.student_7a)
    client.post(reverse("notifications:settings"), {"me-push": "on", "me-source_tasks": "list"})
    client.post(reverse("notifications:settings"), {"me-digest": "on"})
    pref = settings_services.preferences_of(world.student_7a)
    assert not pref.push and pref.digest and pref.level(Source.TASKS) == "list"
