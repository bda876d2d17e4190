"""Events are declared once: a misspelt one fails at import, every one has a subscriber,
and subscribers hear of a write only after it committed."""

import pytest

from kreide.core import events
from kreide.schools import events as school_events


def test_every_declared_event_has_a_subscriber_and_a_description():
    declared = events.declared()
    assert "schools.group_changed" in declared and "accounts.user_active_changed" in declared
    for name, event in declared.items():
        assert event.handlers, f"{name} is published but nobody subscribes to it"
        assert event.doc


def test_a_misspelt_or_doubled_event_fails_at_once():
    with pytest.raises(AttributeError):
        school_events.group_chnaged.subscribe(print)  # noqa: B018 - the typo is the test
    with pytest.raises(ValueError, match="declared twice"):
        events.Event("schools.group_changed", "again")


@pytest.mark.django_db(transaction=True)
def test_subscribers_hear_after_commit_and_a_failing_one_breaks_nothing(caplog):
    from django.db import transaction

    heard: list[dict] = []

    def failing(**payload):
        raise RuntimeError("boom")

    event = school_events.group_created
    event.subscribe(failing)
    event.subscribe(lambda **payload: heard.append(payload))
    handler = event.handlers[-1]
    try:
        with transaction.atomic():
            event.publish(group_id=1)
            assert heard == []
        assert heard == [{"group_id": 1}]
        with pytest.raises(RuntimeError), transaction.atomic():
            event.publish(group_id=2)
            raise RuntimeError("rolled back")
        assert heard == [{"group_id": 1}]
        assert "event handler failed" in caplog.text
    finally:
        event.unsubscribe(failing)
        event.unsubscribe(handler)
