"""The calendar: school, class/group and personal dates, class tests with the school's
limits, school holidays and public holidays, and each person's iCal subscription.

Who sees an event: the whole school (audience "school"), the members and teachers of its
group ("group"), its owner only ("personal"). Who writes one: admins for the school,
teachers of the group (and admins) for a group, anyone for themselves. Every write bumps
`school:<id>:calendar`; reads are cached per school and month and per person and month
(the latter read only for those who have personal dates that month).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import holidays
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from icalendar import Calendar
from icalendar import Event as ICalEvent

from kreide.accounts.models import User
from kreide.core import audit, fragments
from kreide.core.prepared import PreparedQuery
from kreide.schools import access
from kreide.schools.access import is_admin_of
from kreide.schools.models import Group
from kreide.timetable.models import CalendarSettings, Event, FeedToken

CACHE_SECONDS = 6 * 3600

audit.declare(
    {
        "calendar.event_created": gettext_lazy("Calendar entry created"),
        "calendar.event_deleted": gettext_lazy("Calendar entry deleted"),
        "calendar.holidays_imported": gettext_lazy("Holidays imported"),
        "calendar.feed_renewed": gettext_lazy("Calendar subscription address renewed"),
        "calendar.feed_revoked": gettext_lazy("Calendar subscription address revoked"),
    }
)
MAX_ICS_BYTES = 2 * 1024 * 1024


def calendar_scope(school_id: int) -> str:
    return f"school:{school_id}:calendar"


def calendar_scopes(row) -> list[str]:
    """Events, the school's calendar settings and group names feed its cached calendar
    (declared in apps.py)."""
    return [calendar_scope(row.school_id)]


def settings_for(school_id: int) -> CalendarSettings:
    found = CalendarSettings.objects.for_school(school_id).first()
    return found or CalendarSettings(school_id=school_id)


# ------------------------------------------------------------------------------ free days


def free_days(school_id: int, this_year: int | None = None) -> dict[date, str]:
    """School-free days of this year and the next: public holidays of the school's state
    (the `holidays` library) and the school holidays entered or imported as events.
    `this_year`: the local date's year, where the caller has it."""
    this_year = this_year or timezone.localdate().year

    def load() -> dict[date, str]:
        state = settings_for(school_id).state or None
        found: dict[date, str] = dict(
            holidays.country_holidays(
                "DE", subdiv=state, years=(this_year - 1, this_year, this_year + 1), language="de"
            )
        )
        holiday_events = Event.objects.for_school(school_id).filter(
            kind=Event.Kind.HOLIDAY, ends_at__year__gte=this_year - 1
        )
        for title, starts, ends in holiday_events.values_list("title", "starts_at", "ends_at"):
            day, last = timezone.localtime(starts).date(), timezone.localtime(ends).date()
            while day < last:  # all-day events end at the next midnight
                found.setdefault(day, title)
                day += timedelta(days=1)
        return found

    [(name, scopes)] = free_days_fragment(school_id, this_year).items()
    return fragments.cached(name, scopes, load, CACHE_SECONDS)


def free_days_fragment(school_id: int, this_year: int | None = None) -> dict[str, list[str]]:
    """The fragment (name → scopes) free_days(school_id, this_year) reads."""
    this_year = this_year or timezone.localdate().year
    return {f"calendar:free:{school_id}:{this_year}": [calendar_scope(school_id)]}


def is_school_day(day: date, free: dict[date, str]) -> bool:
    return day.isoweekday() <= 5 and day not in free


def school_day_on_or_after(day: date, free: dict[date, str]) -> date:
    while not is_school_day(day, free):
        day += timedelta(days=1)
    return day


def next_school_day(day: date, free: dict[date, str]) -> date:
    return school_day_on_or_after(day + timedelta(days=1), free)


# ------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Item:
    """An event as pages and feeds show it (cached, so plain values)."""

    pk: int
    uid: str
    title: str
    kind: str
    audience: str
    group: str
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    location: str
    description: str
    owner_id: int | None
    group_id: int | None
    school_id: int

    @property
    def kind_label(self) -> str:
        return Event.Kind(self.kind).label

    @property
    def first_day(self) -> date:
        return timezone.localtime(self.starts_at).date()


_ITEM_FIELDS = (
    "pk",
    "uid",
    "title",
    "kind",
    "audience",
    "group__name",
    "starts_at",
    "ends_at",
    "all_day",
    "location",
    "description",
    "owner_id",
    "group_id",
    "school_id",
)


def _items(rows: list[tuple]) -> list[Item]:
    return [
        Item(
            *(
                value if value is not None or name.endswith("_id") else ""
                for name, value in zip(_ITEM_FIELDS, row, strict=True)
            )
        )
        for row in rows
    ]


def _overlapping(school_id: int, start: datetime, end: datetime) -> QuerySet[Event]:
    return Event.objects.for_school(school_id).filter(starts_at__lt=end, ends_at__gt=start)


# A month's dates for events_for(), the SQL built once per process.
_SHARED = PreparedQuery(
    lambda school_id, start, end: (
        _overlapping(school_id, start, end)
        .exclude(audience=Event.Audience.PERSONAL)
        .order_by("starts_at", "pk")
        .values_list(*_ITEM_FIELDS)
    )
)
_PERSONAL = PreparedQuery(
    lambda school_id, start, end, owner_id: (
        _overlapping(school_id, start, end)
        .filter(audience=Event.Audience.PERSONAL, owner_id=owner_id)
        .order_by("starts_at", "pk")
        .values_list(*_ITEM_FIELDS)
    )
)


# Who has personal dates in a month: most people have none, and their own month then
# costs them no query (a person's first page of the day asked for it, empty).
_OWNERS = PreparedQuery(
    lambda school_id, start, end: (
        _overlapping(school_id, start, end)
        .filter(audience=Event.Audience.PERSONAL)
        .order_by("owner_id")
        .values_list("owner_id", flat=True)
        .distinct()
    )
)


def viewer_groups(user: User) -> list[int]:
    """The groups whose dates a person sees: the active ones they belong to or teach."""
    return list(access.group_ids(user).values_list("group_id", flat=True))


def _event_names(user: User, start: date, end: date) -> dict[str, tuple[str, date]]:
    """events_for()'s fragments read first, per month: the school's shared dates and who
    has personal ones (all under the school's calendar scope, as the person's own are)."""
    names: dict[str, tuple[str, date]] = {}
    for month in _months(start, end):
        names[f"calendar:shared:{user.school_id}:{month}"] = ("shared", month)
        names[f"calendar:owners:{user.school_id}:{month}"] = ("owners", month)
    return names


def event_fragments(user: User, start: date, end: date) -> dict[str, list[str]]:
    """The fragments (name → scopes) events_for(user, …, start, end) reads."""
    return {name: [calendar_scope(user.school_id)] for name in _event_names(user, start, end)}


def events_for(user: User, group_ids: list[int], start: date, end: date) -> list[Item]:
    """What `user` sees from `start` to `end` (inclusive).

    Cached per month: the school's shared dates (whole school and every group, filtered
    here to the viewer's groups, so joining groups costs no query) and the person's own."""
    school_id = user.school_id
    names = _event_names(user, start, end)

    def load(missing: list[str]) -> dict[str, list[Item] | set[int]]:
        found: dict[str, list[Item] | set[int]] = {}
        for name in missing:
            kind, month = names[name]
            following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
            span = (school_id, _midnight(month), _midnight(following))
            if kind == "personal":
                found[name] = _items(_PERSONAL.list(*span, user.pk))
            elif kind == "owners":
                found[name] = set(_OWNERS.list(*span))
            else:
                found[name] = _items(_SHARED.list(*span))
        return found

    found = fragments.cached_many(event_fragments(user, start, end), load, CACHE_SECONDS)
    owners = {name: found.pop(name) for name, (kind, _month) in names.items() if kind == "owners"}
    own = {
        f"calendar:user:{user.pk}:{names[name][1]}": ("personal", names[name][1])
        for name, ids in owners.items()
        if user.pk in ids
    }
    if own:
        names.update(own)
        scopes = [calendar_scope(school_id)]
        found.update(fragments.cached_many(dict.fromkeys(own, scopes), load, CACHE_SECONDS))
    mine = set(group_ids)
    seen, result = set(), []
    first, last = _midnight(start), _midnight(end + timedelta(days=1))
    for items in found.values():
        for item in items:
            visible = item.audience != Event.Audience.GROUP or item.group_id in mine
            if visible and item.pk not in seen and item.starts_at < last and item.ends_at > first:
                seen.add(item.pk)
                result.append(item)
    return sorted(result, key=lambda item: (item.starts_at, item.pk))


def _months(start: date, end: date) -> list[date]:
    months, month = [], start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return months


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# ------------------------------------------------------------------------------- writing


def writable_groups(user: User) -> QuerySet[Group]:
    """The groups `user` may put dates into: every active one for admins, the taught ones
    for teachers, none for students."""
    return access.groups_for_teaching(user)


def can_edit(user: User, event: Event | Item, writable: set[int] | None = None) -> bool:
    """May `user` change or delete `event`? `writable`: the ids of writable_groups(user),
    when the caller asks for many events."""
    if not access.participates(user) or user.school_id != event.school_id:
        return False
    if event.audience == Event.Audience.PERSONAL:
        return event.owner_id == user.pk
    if is_admin_of(user, event.school_id):
        return True
    if writable is None:
        writable = set(writable_groups(user).values_list("pk", flat=True))
    return event.audience == Event.Audience.GROUP and event.group_id in writable


def test_warnings(group: Group, day: date, exclude: int | None = None) -> list[str]:
    """Why one more class test for `group` on `day` would break the school's limits."""
    rules = settings_for(group.school_id)
    monday = day - timedelta(days=day.weekday())
    tests = Event.objects.for_school(group.school_id).filter(
        kind=Event.Kind.TEST,
        group=group,
        starts_at__gte=_midnight(monday),
        starts_at__lt=_midnight(monday + timedelta(days=7)),
    )
    if exclude:
        tests = tests.exclude(pk=exclude)
    days = [
        timezone.localtime(starts).date() for starts in tests.values_list("starts_at", flat=True)
    ]
    warnings = []
    if days.count(day) + 1 > rules.tests_per_day:
        warnings.append(
            _("%(group)s would write %(count)d class tests that day; the limit is %(limit)d.")
            % {"group": group.name, "count": days.count(day) + 1, "limit": rules.tests_per_day}
        )
    if len(days) + 1 > rules.tests_per_week:
        warnings.append(
            _("%(group)s would write %(count)d class tests that week; the limit is %(limit)d.")
            % {"group": group.name, "count": len(days) + 1, "limit": rules.tests_per_week}
        )
    return warnings


class TestLimitExceeded(ValidationError):
    """The class test breaks the school's limits and was not confirmed."""


def create_event(
    actor: User,
    *,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    all_day: bool = False,
    audience: str = Event.Audience.PERSONAL,
    group: Group | None = None,
    kind: str = Event.Kind.EVENT,
    description: str = "",
    location: str = "",
    confirmed: bool = False,
    uid: str | None = None,
    ical: str = "",
    href: str = "",
) -> Event:
    """Save a date; a class test over the limits raises TestLimitExceeded unless `confirmed`."""
    if ends_at < starts_at:
        raise ValidationError(_("The end must not be before the start."))
    event = Event(
        school_id=actor.school_id,
        audience=audience,
        kind=kind,
        group=group if audience == Event.Audience.GROUP else None,
        owner=actor if audience == Event.Audience.PERSONAL else None,
        created_by=actor,
        title=title,
        description=description,
        location=location,
        starts_at=starts_at,
        ends_at=ends_at,
        all_day=all_day,
        ical=ical,
        href=href,
    )
    if uid:
        event.uid = uid
    if audience == Event.Audience.GROUP and group is None:
        raise ValidationError(_("Choose the class or group."))
    if kind == Event.Kind.TEST and audience != Event.Audience.GROUP:
        raise ValidationError(_("A class test is for a class or group."))
    if not can_edit(actor, event) or (kind == Event.Kind.HOLIDAY and audience != "school"):
        raise PermissionDenied
    if kind == Event.Kind.TEST and not confirmed:
        warnings = test_warnings(group, timezone.localtime(starts_at).date())
        if warnings:
            raise TestLimitExceeded(warnings)
    with transaction.atomic():
        event.save()
        if audience != Event.Audience.PERSONAL:
            audit.record(actor.school, actor, "calendar.event_created", event, kind=kind)
    return event


def update_event(actor: User, event: Event, **fields) -> Event:
    """Change a date the actor may edit (CalDAV PUT on an existing resource)."""
    if not can_edit(actor, event):
        raise PermissionDenied
    for name, value in fields.items():
        setattr(event, name, value)
    if event.ends_at < event.starts_at:
        raise ValidationError(_("The end must not be before the start."))
    event.save()
    return event


def delete_event(actor: User, event: Event) -> None:
    if not can_edit(actor, event):
        raise PermissionDenied
    with transaction.atomic():
        if event.audience != Event.Audience.PERSONAL:
            audit.record(event.school_id, actor, "calendar.event_deleted", event)
        event.delete()


def save_settings(actor: User, *, tests_per_day: int, tests_per_week: int, state: str) -> None:
    if not is_admin_of(actor, actor.school):
        raise PermissionDenied
    CalendarSettings.objects.for_school(actor.school).update_or_create(
        school=actor.school,
        defaults={"tests_per_day": tests_per_day, "tests_per_week": tests_per_week, "state": state},
    )


# ------------------------------------------------------------------------ holiday import


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return _midnight(value)


def import_holidays(actor: User | None, school, data: bytes) -> tuple[int, int]:
    """The state's school holidays from an ICS file (e.g. the ministry's), as school-free
    all-day events. Matched by UID: importing the same file again changes nothing.
    Returns (added, updated)."""
    if actor is not None and not is_admin_of(actor, school):
        raise PermissionDenied
    if len(data) > MAX_ICS_BYTES:
        raise ValidationError(_("The file is larger than 2 MB."))
    try:
        calendar = Calendar.from_ical(data)
        entries = []
        for component in calendar.walk("VEVENT"):
            start = component.decoded("DTSTART")
            end = component.decoded("DTEND") if "DTEND" in component else start + timedelta(days=1)
            title = str(component.get("SUMMARY", "")) or _("School holiday")
            uid = str(component.get("UID", "")) or f"{start}-{title}"
            entries.append((uid[:255], title[:200], _as_datetime(start), _as_datetime(end)))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValidationError(_("This is not a calendar file (ICS) Kreide can read.")) from None
    added = updated = 0
    with transaction.atomic():
        stored = {
            event.uid: event
            for event in Event.objects.for_school(school).filter(uid__in=[e[0] for e in entries])
        }
        for uid, title, starts_at, ends_at in entries:
            event = stored.get(uid)
            if event is None:
                Event.objects.for_school(school).create(
                    uid=uid,
                    title=title,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    all_day=True,
                    audience=Event.Audience.SCHOOL,
                    kind=Event.Kind.HOLIDAY,
                    created_by=actor,
                )
                added += 1
            elif (event.title, event.starts_at, event.ends_at) != (title, starts_at, ends_at):
                event.title, event.starts_at, event.ends_at = title, starts_at, ends_at
                event.save(update_fields=["title", "starts_at", "ends_at", "updated_at"])
                updated += 1
        if added or updated:
            audit.record(school, actor, "calendar.holidays_imported", added=added, updated=updated)
    return added, updated


# --------------------------------------------------------------------- iCal subscription


def feed_token(user: User) -> FeedToken | None:
    return FeedToken.objects.for_school(user.school_id).filter(user=user).first()


def renew_feed(user: User) -> FeedToken:
    """A new secret subscription address; the previous one stops working. The secret
    reads the person's timetable without a sign-in, so its making is audited (the entry
    names the person, never the secret)."""
    with transaction.atomic():
        replaced = FeedToken.objects.for_school(user.school_id).filter(user=user).delete()[0]
        token = FeedToken.objects.for_school(user.school_id).create(user=user)
        audit.record(user.school_id, user, "calendar.feed_renewed", user, replaced=bool(replaced))
    return token


def revoke_feed(user: User) -> None:
    with transaction.atomic():
        revoked = FeedToken.objects.for_school(user.school_id).filter(user=user).delete()[0]
        if revoked:  # nothing to revoke leaves no entry
            audit.record(user.school_id, user, "calendar.feed_revoked", user)


def user_for_feed(token: str) -> User | None:
    if not token or len(token) > 64:
        return None
    found = FeedToken.unscoped.filter(token=token).select_related("user").first()
    if found is None or not access.participates(found.user):
        return None
    if found.user.school_id != found.school_id:
        return None
    return found.user


FEED_PAST_DAYS, FEED_LESSON_DAYS, FEED_EVENT_DAYS = 7, 14, 365


def build_feed(user: User) -> bytes:
    """The person's timetable (with substitutions), dates and school-free days as iCalendar."""
    from kreide.timetable import plans

    today = timezone.localdate()
    calendar = Calendar()
    calendar.add("prodid", "-//Kreide//Stundenplan//DE")
    calendar.add("version", "2.0")
    calendar.add(
        "x-wr-calname", _("Kreide: %(name)s") % {"name": user.get_full_name() or user.username}
    )
    now = timezone.now()
    free = free_days(user.school_id)
    days = [today + timedelta(days=offset) for offset in range(-FEED_PAST_DAYS, FEED_LESSON_DAYS)]
    days = [day for day in days if is_school_day(day, free)]
    targets = plans.targets_of(user)
    for day in plans.days_of(user.school_id, targets, days):
        for slot in day.slots:
            if slot.starts_at is None:
                continue
            for entry in slot.entries:
                vevent = ICalEvent()
                summary = " ".join(filter(None, [entry.subject, entry.group]))
                if entry.kind:
                    summary = f"{entry.kind_label}: {summary}"
                vevent.add(
                    "uid",
                    f"lesson-{day.day:%Y%m%d}-{slot.period}-{entry.group}-{entry.subject}@kreide",
                )
                vevent.add("summary", summary)
                vevent.add(
                    "dtstart", timezone.make_aware(datetime.combine(day.day, slot.starts_at))
                )
                vevent.add("dtend", timezone.make_aware(datetime.combine(day.day, slot.ends_at)))
                vevent.add("dtstamp", now)
                if entry.room:
                    vevent.add("location", entry.room)
                details = [entry.teacher, entry.note]
                if any(details):
                    vevent.add("description", " · ".join(filter(None, details)))
                if entry.cancelled:
                    vevent.add("status", "CANCELLED")
                calendar.add_component(vevent)
    for item in events_for(
        user,
        viewer_groups(user),
        today - timedelta(days=30),
        today + timedelta(days=FEED_EVENT_DAYS),
    ):
        calendar.add_component(to_vevent(item, now))
    for day, name in sorted(free.items()):
        if today - timedelta(days=30) <= day <= today + timedelta(days=FEED_EVENT_DAYS):
            vevent = ICalEvent()
            vevent.add("uid", f"free-{day:%Y%m%d}-{user.school_id}@kreide")
            vevent.add("summary", name)
            vevent.add("dtstart", day)
            vevent.add("dtend", day + timedelta(days=1))
            vevent.add("dtstamp", now)
            vevent.add("transp", "TRANSPARENT")
            calendar.add_component(vevent)
    return calendar.to_ical()


def to_vevent(item: Item, stamp: datetime) -> ICalEvent:
    vevent = ICalEvent()
    vevent.add("uid", item.uid)
    summary = item.title if item.kind == Event.Kind.EVENT else f"{item.kind_label}: {item.title}"
    vevent.add("summary", f"{summary} ({item.group})" if item.group else summary)
    if item.all_day:
        vevent.add("dtstart", timezone.localtime(item.starts_at).date())
        vevent.add("dtend", timezone.localtime(item.ends_at).date())
    else:
        vevent.add("dtstart", item.starts_at)
        vevent.add("dtend", item.ends_at)
    vevent.add("dtstamp", stamp)
    if item.location:
        vevent.add("location", item.location)
    if item.description:
        vevent.add("description", item.description)
    return vevent
