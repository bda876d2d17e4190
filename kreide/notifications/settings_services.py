"""Who is told how: each person's delivery settings, their browsers' push subscriptions,
and the school's quiet hours. Every write checks permission here and is audited."""

from __future__ import annotations

from datetime import time

from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from kreide.accounts.models import User
from kreide.core import audit
from kreide.core.errors import Refusal
from kreide.notifications import delivery
from kreide.notifications.context import live_off_key
from kreide.notifications.models import Preferences, PushSubscription, QuietHours
from kreide.schools import access

audit.declare(
    {
        "notifications.quiet_hours": _("Quiet hours for notifications changed"),
        "notifications.push_subscribed": _("A browser subscribed to push notifications"),
        "notifications.push_unsubscribed": _("A browser unsubscribed from push notifications"),
    }
)

MAX_SUBSCRIPTIONS = 10


class SubscriptionRefused(Refusal):
    def __init__(self, message) -> None:
        super().__init__(message, code="push_refused", status=400)


def _require_participant(user: User) -> None:
    if not access.participates(user):
        raise PermissionDenied


def preferences_of(user: User) -> Preferences:
    """The person's settings (unsaved defaults until they change them)."""
    found = Preferences.objects.for_school(user.school_id).filter(user=user).first()
    return found or Preferences(school_id=user.school_id, user=user)


def save_preferences(
    user: User, *, live: bool, push: bool, digest: bool, levels: dict[str, str] | None = None
) -> Preferences:
    """The channels and, per source (`models.Source`), everything, list only or off."""
    _require_participant(user)
    pref = preferences_of(user)
    pref.live, pref.push, pref.digest = live, push, digest
    if levels is not None:
        pref.set_levels(levels)
    pref.save()
    if live:
        cache.delete(live_off_key(user.pk))
    else:
        cache.set(live_off_key(user.pk), True, None)
    return pref


def quiet_hours_of(school_id: int) -> QuietHours:
    found = QuietHours.objects.for_school(school_id).first()
    return found or QuietHours(school_id=school_id)


@transaction.atomic
def save_quiet_hours(
    actor: User, *, starts: time, ends: time, for_students: bool, for_everyone: bool
) -> QuietHours:
    access.require_admin(actor, actor.school_id)
    quiet = quiet_hours_of(actor.school_id)
    quiet.starts, quiet.ends = starts, ends
    quiet.for_students, quiet.for_everyone = for_students, for_everyone
    quiet.save()
    audit.record(
        actor.school_id,
        actor,
        "notifications.quiet_hours",
        starts=f"{starts:%H:%M}",
        ends=f"{ends:%H:%M}",
        for_students=for_students,
        for_everyone=for_everyone,
    )
    return quiet


def _text(value: object, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise SubscriptionRefused(_("The browser's subscription could not be read."))
    return value


@transaction.atomic
def subscribe(user: User, subscription: object, user_agent: str = "") -> PushSubscription:
    """Store a browser's PushSubscription (its JSON form); the same endpoint again moves
    to this person (a shared computer's browser now belongs to whoever subscribed last)."""
    _require_participant(user)
    if not isinstance(subscription, dict) or not isinstance(subscription.get("keys"), dict):
        raise SubscriptionRefused(_("The browser's subscription could not be read."))
    endpoint = _text(subscription.get("endpoint"), 1000)
    p256dh = _text(subscription["keys"].get("p256dh"), 200)
    auth = _text(subscription["keys"].get("auth"), 64)
    if not delivery.endpoint_allowed(endpoint):
        raise SubscriptionRefused(_("This browser's push service is not allowed here."))
    PushSubscription.unscoped.filter(endpoint=endpoint).exclude(user=user).delete()
    mine = PushSubscription.objects.for_school(user.school_id).filter(user=user)
    if not mine.filter(endpoint=endpoint).exists() and mine.count() >= MAX_SUBSCRIPTIONS:
        # The oldest device makes room: people replace phones more often than they tidy up.
        mine.order_by("created_at", "pk").first().delete()
    try:
        with transaction.atomic():
            found, created = PushSubscription.objects.for_school(user.school_id).update_or_create(
                endpoint=endpoint,
                defaults={
                    "user": user,
                    "p256dh": p256dh,
                    "auth": auth,
                    "user_agent": user_agent[:200],
                },
            )
    except IntegrityError:  # the same browser subscribing twice at once
        found, created = PushSubscription.unscoped.get(endpoint=endpoint), False
    if created:
        audit.record(user.school_id, user, "notifications.push_subscribed", found)
    return found


@transaction.atomic
def unsubscribe(user: User, endpoint: object) -> bool:
    """Forget one of the person's browsers; another's subscription is left alone."""
    if not isinstance(endpoint, str) or user.school_id is None:
        return False
    found = (
        PushSubscription.objects.for_school(user.school_id)
        .filter(user=user, endpoint=endpoint)
        .first()
    )
    if found is None:
        return False
    audit.record(user.school_id, user, "notifications.push_unsubscribed", found)
    found.delete()
    return True


def subscriptions_of(user: User) -> list[PushSubscription]:
    return list(
        PushSubscription.objects.for_school(user.school_id).filter(user=user).order_by("created_at")
    )
