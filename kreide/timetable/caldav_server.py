"""CalDAV at /caldav/: Radicale speaks the protocol, Kreide's events are its storage.

Radicale (a kept CalDAV server, used here as a library) answers PROPFIND, REPORT, PUT,
DELETE and the rest; this module gives it Kreide's view of the calendars. Each person has
a principal `/caldav/<username>/` with:

- `personal/`: their own dates, read-write (what a phone or Thunderbird stores there
  comes back byte for byte; Kreide shows title, time, place and description);
- `school/`: the school's dates and holidays, read-only;
- `group-<id>/`: the dates of each class or group they belong to or teach, read-only.

Sign-in is Kreide's (HTTP Basic with the password or an app password, as for WebDAV);
Radicale only learns the user name. Another person's principal does not exist.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import logging
import sys
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

import radicale
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.utils import timezone
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from icalendar import Calendar
from radicale import config as radicale_config
from radicale import item as radicale_item
from radicale import rights as radicale_rights
from radicale import storage as radicale_storage

from kreide.accounts.gate import must_change_password_first, refusal_message
from kreide.accounts.models import User
from kreide.files.webdav import authenticate_basic
from kreide.schools import access
from kreide.schools.models import Group
from kreide.timetable import calendars
from kreide.timetable.models import Event

MAX_RESOURCE_BYTES = 256 * 1024
PERSONAL, SCHOOL, GROUP_PREFIX = "personal", "school", "group-"
_user: contextvars.ContextVar[User | None] = contextvars.ContextVar("caldav_user", default=None)


def _current() -> User:
    user = _user.get()
    if user is None:  # only reachable through the view below
        raise PermissionError("CalDAV storage used outside a signed-in request")
    return user


# ------------------------------------------------------------------------------ storage


class Collection(radicale_storage.BaseCollection):
    """The root, a principal, or one of a person's calendars."""

    def __init__(self, path: str, kind: str = "", group: Group | None = None) -> None:
        self._path, self._kind, self._group = path, kind, group

    @property
    def path(self) -> str:
        return self._path

    def _events(self):
        user = _current()
        events = Event.objects.for_school(user.school_id)
        if self._kind == PERSONAL:
            return events.filter(audience=Event.Audience.PERSONAL, owner=user)
        if self._kind == SCHOOL:
            return events.filter(audience=Event.Audience.SCHOOL)
        if self._kind == GROUP_PREFIX:
            return events.filter(audience=Event.Audience.GROUP, group=self._group)
        return Event.objects.for_school(user.school_id).none()

    def _item(self, event: Event) -> radicale_item.Item:
        return _Item(
            collection_path=self._path,
            collection=self,
            href=event.href or f"{event.uid}.ics",
            text=event.ical or _as_ical(event),
            last_modified=http_date(event.updated_at.timestamp()),
        )

    def get_all(self) -> Iterator[radicale_item.Item]:
        for event in self._events().select_related("group"):
            yield self._item(event)

    def get_multi(self, hrefs: Iterable[str]):
        wanted = set(hrefs)
        found = {item.href: item for item in self.get_all() if item.href in wanted}
        for href in wanted:
            yield href, found.get(href)

    def has_uid(self, uid: str) -> bool:
        return self._events().filter(uid=uid).exists()

    def upload(self, href: str, item: radicale_item.Item):
        if self._kind != PERSONAL:
            raise ValueError("read-only calendar")
        user = _current()
        old = self._events().filter(href=href).first()
        replaced = self._item(old) if old else None
        fields = _fields_of(item)
        try:
            with transaction.atomic():
                if old is None:
                    event = calendars.create_event(
                        user, uid=item.uid, ical=item.serialize(), href=href, **fields
                    )
                else:
                    event = calendars.update_event(user, old, ical=item.serialize(), **fields)
        except (IntegrityError, ValidationError) as error:
            raise ValueError(str(error)) from error
        return self._item(event), replaced

    def delete(self, href: str | None = None) -> None:
        if self._kind != PERSONAL:
            raise ValueError("read-only calendar")
        user = _current()
        events = self._events() if href is None else self._events().filter(href=href)
        for event in events:
            calendars.delete_event(user, event)

    def get_meta(self, key: str | None = None):
        meta = {}
        if self._kind:
            meta = {
                "tag": "VCALENDAR",
                "D:displayname": self._display_name(),
                "C:supported-calendar-component-set": "VEVENT,VTODO"
                if self._kind == PERSONAL
                else "VEVENT",
            }
        return meta if key is None else meta.get(key)

    def _display_name(self) -> str:
        if self._kind == PERSONAL:
            return "Persönlich"
        if self._kind == SCHOOL:
            return _current().school.name
        return self._group.name

    def set_meta(self, props) -> None:
        """Names and colours are Kreide's: a client's PROPPATCH is refused (403)."""
        raise ValueError(f"[Errno {errno.EPERM}] Kreide names its calendars itself")

    @property
    def last_modified(self) -> str:
        newest = self._events().order_by("-updated_at").values_list("updated_at", flat=True).first()
        return http_date((newest or timezone.now()).timestamp())


class _Item(radicale_item.Item):
    """An event as Radicale sees it; each copy parses the iCalendar text anew.

    Radicale expands a recurring event (REPORT with <C:expand>) on a shallow copy of the
    item and cuts the parsed series into occurrences in place. Our items are parsed
    before that (to filter them by time), so copies shared the parsed form: the second
    property of the same answer (calendar-data, then getetag) found a series without its
    master and the whole REPORT failed with 400."""

    def __copy__(self) -> _Item:
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._vobject_item = None  # parsed again from the unchanged text on first use
        return clone


class Storage(radicale_storage.BaseStorage):
    def discover(
        self, path: str, depth: str = "0", child_context_manager=None, user_groups=frozenset()
    ):
        user = _current()
        parts = [part for part in path.strip("/").split("/") if part]
        if not parts:
            yield Collection("")
            if depth != "0":
                yield Collection(user.username)
            return
        if parts[0] != user.username:
            return  # another person's principal does not exist
        if len(parts) == 1:
            yield Collection(user.username)
            if depth != "0":
                yield from self._calendars(user)
            return
        calendar = next(
            (found for found in self._calendars(user) if found.path == "/".join(parts[:2])), None
        )
        if calendar is None or len(parts) > 3:
            return
        if len(parts) == 2:
            yield calendar
            if depth != "0":
                yield from calendar.get_all()
            return
        item = next(iter(calendar.get_multi([parts[2]])))[1]
        if item is not None:
            yield item

    def _calendars(self, user: User) -> list[Collection]:
        base = user.username
        found = [Collection(f"{base}/{PERSONAL}", PERSONAL), Collection(f"{base}/{SCHOOL}", SCHOOL)]
        groups = Group.objects.for_school(user.school_id).filter(pk__in=access.group_ids(user))
        found += [
            Collection(f"{base}/{GROUP_PREFIX}{group.pk}", GROUP_PREFIX, group) for group in groups
        ]
        return found

    def move(self, item, to_collection, to_href) -> None:
        raise ValueError("Kreide calendars do not move events between calendars")

    def create_collection(self, href: str, items=None, props=None):
        raise ValueError("Kreide's calendars are made by Kreide")

    @contextlib.contextmanager
    def acquire_lock(self, mode: str, user: str = "", *args, **kwargs) -> Iterator[None]:
        yield  # the database's transactions do the locking

    def verify(self) -> bool:
        return True


class Rights(radicale_rights.BaseRights):
    """Only one's own principal; only the personal calendar is writable."""

    def authorization(self, user: str, user_groups, path: str) -> str:
        parts = [part for part in path.strip("/").split("/") if part]
        if not user:
            return ""
        if not parts:
            return "R"
        if parts[0] != user:
            return ""
        if len(parts) == 1:
            return "R"
        return "rw" if parts[1] == PERSONAL else "r"


# ---------------------------------------------------------------------- event <-> iCal


def _as_ical(event: Event) -> str:
    calendar = Calendar()
    calendar.add("prodid", "-//Kreide//Kalender//DE")
    calendar.add("version", "2.0")
    item = calendars.Item(
        event.pk,
        event.uid,
        event.title,
        event.kind,
        event.audience,
        event.group.name if event.group_id else "",
        event.starts_at,
        event.ends_at,
        event.all_day,
        event.location,
        event.description,
        event.owner_id,
        event.group_id,
        event.school_id,
    )
    calendar.add_component(calendars.to_vevent(item, event.updated_at))
    return calendar.to_ical().decode()


def _aware(value: date | datetime) -> datetime:
    if not isinstance(value, datetime):
        return timezone.make_aware(datetime.combine(value, datetime.min.time()))
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def _fields_of(item: radicale_item.Item) -> dict:
    """What Kreide shows of a client's event or to-do: title, time, place, description."""
    vobject_item = item.vobject_item
    if hasattr(vobject_item, "vevent"):
        component, kind = vobject_item.vevent, Event.Kind.EVENT
    elif hasattr(vobject_item, "vtodo"):
        component, kind = vobject_item.vtodo, Event.Kind.TASK
    else:
        raise ValueError("Kreide's calendars hold events and to-dos")

    def value(name: str):
        return getattr(component, name).value if hasattr(component, name) else None

    start = value("dtstart") or value("due") or timezone.now()
    end = value("dtend") or value("due")
    if end is None and value("duration") is not None:
        end = start + value("duration")
    if end is None:
        end = start if isinstance(start, datetime) else start + timedelta(days=1)

    def text(name: str, limit: int) -> str:
        return str(value(name) or "")[:limit]

    return {
        "title": text("summary", 200) or "—",
        "starts_at": _aware(start),
        "ends_at": _aware(end),
        "all_day": not isinstance(start, datetime),
        "location": text("location", 200),
        "description": text("description", 10_000),
        "kind": kind,
    }


# --------------------------------------------------------------------------------- view


@functools.cache
def _application() -> radicale.Application:
    logging.getLogger("radicale").setLevel(logging.WARNING)
    configuration = radicale_config.load()
    configuration.update(
        {
            "auth": {"type": "remote_user"},
            "rights": {"type": "kreide.timetable.caldav_server"},
            "storage": {"type": "kreide.timetable.caldav_server"},
            "web": {"type": "none"},
            "server": {
                "max_content_length": str(MAX_RESOURCE_BYTES * 4),
                "max_resource_size": str(MAX_RESOURCE_BYTES),
                "delay_on_error": "0",
            },
        },
        "kreide",
        privileged=True,
    )
    return radicale.Application(configuration)


def well_known(request: HttpRequest) -> HttpResponse:
    """RFC 6764: where calendar apps find CalDAV."""
    return HttpResponsePermanentRedirect("/caldav/")


@csrf_exempt
def caldav(request: HttpRequest, path: str = "") -> HttpResponse:
    user = authenticate_basic(request)
    if user is None:
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Basic realm="Kreide", charset="UTF-8"'
        return response
    if must_change_password_first(user):
        return HttpResponse(refusal_message(), status=403, content_type="text/plain; charset=utf-8")
    body = request.body if request.method not in ("GET", "HEAD", "OPTIONS") else b""
    environ = {key: value for key, value in request.META.items() if isinstance(value, str)}
    environ.update(
        {
            "wsgi.input": _Body(body),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": request.scheme,
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "/caldav",
            "PATH_INFO": "/" + path,
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user.username,
            "HTTP_HOST": request.get_host(),
        }
    )
    captured: dict = {}

    def start_response(status: str, headers: list, exc_info=None):
        captured["status"], captured["headers"] = status, headers
        return lambda data: None

    token = _user.set(user)
    try:
        answer = b"".join(_application()(environ, start_response))
    finally:
        _user.reset(token)
    code, _space, reason = captured["status"].partition(" ")
    response = HttpResponse(answer, status=int(code), reason=reason)
    del response["Content-Type"]
    for name, value in captured["headers"]:
        if name.lower() not in ("connection", "transfer-encoding"):
            response[name] = value
    return response


class _Body:
    """The request body as the WSGI input Radicale reads."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._at + size
        chunk, self._at = self._data[self._at : end], min(end, len(self._data))
        return chunk
