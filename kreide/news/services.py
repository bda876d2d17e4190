"""News and parent letters: who may post to which audience, who reads what, receipts.

Every question about roles and groups goes to the access layer. Readers:

- the whole school: everyone taking part at the school, parents too;
- staff: teachers and school admins;
- classes and groups: their members and teachers (active groups only);
- parents of classes and groups: the parents of the groups' students, and the groups'
  teachers (who see what went home).

School admins read everything and post to every audience; teachers post to the classes
and groups they teach and to their parents. The author always sees their own news, also
before it is published and after it expired.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from kreide.accounts.models import User
from kreide.core import audit
from kreide.core.errors import Refusal
from kreide.news import events
from kreide.news.models import News, NewsAttachment, Receipt
from kreide.schools import access
from kreide.schools.models import Group
from kreide.storage.models import Blob, Upload

audit.declare(
    {
        "news.posted": gettext_lazy("School news posted"),
        "news.edited": gettext_lazy("News edited"),
        "news.deleted": gettext_lazy("School news deleted"),
        "letter.confirmed": gettext_lazy("Parent letter confirmed"),
        "letter.reminded": gettext_lazy("Parents reminded of a letter"),
    }
)

UPLOAD_PURPOSE = "news-attachment"
DASHBOARD_LENGTH = 5
REMIND_INTERVAL = timedelta(hours=1)
Audience = News.Audience


class NewsRefusal(Refusal):
    code = "news"


def news_scope(school_id: int) -> str:
    """Fragment scope of a school's news (the dashboard's cached box)."""
    return f"school:{school_id}:news"


# --- Who may post where -----------------------------------------------------------------


def may_post(user: User) -> bool:
    """School admins, and teachers of at least one active class or group."""
    if access.is_admin_of(user, user.school_id):
        return True
    return access.taught_groups(user).exists()


def audiences_for(user: User) -> list[str]:
    if access.is_admin_of(user, user.school_id):
        return list(Audience.values)
    return [Audience.GROUPS, Audience.PARENTS] if may_post(user) else []


def _check_audience(user: User, audience: str, groups: list[Group]) -> None:
    if audience not in audiences_for(user):
        raise PermissionDenied(_("You cannot post news to this audience."))
    if audience in (Audience.GROUPS, Audience.PARENTS):
        if not groups:
            raise NewsRefusal(_("Choose at least one class or group."))
        allowed = set(access.groups_for_teaching(user).values_list("pk", flat=True))
        if any(group.pk not in allowed for group in groups):
            raise PermissionDenied(_("You can only post to classes and groups you teach."))


def can_manage(user: User, news: News) -> bool:
    """The author (while still allowed to post) and the school's admins."""
    if access.is_admin_of(user, news.school_id):
        return True
    return news.author_id == user.pk and user.school_id == news.school_id and may_post(user)


@dataclass
class Draft:
    """What the form gives the service: the fields a poster chooses."""

    title: str
    body: str = ""
    audience: str = Audience.SCHOOL
    groups: list[Group] = field(default_factory=list)
    published_at: datetime | None = None
    expires_at: datetime | None = None
    pinned: bool = False
    needs_confirmation: bool = False
    reply_choices: str = ""


def _apply(news: News, draft: Draft, now: datetime) -> None:
    news.title = draft.title.strip()
    news.body = draft.body.strip()
    news.audience = draft.audience
    news.published_at = draft.published_at or news.published_at or now
    news.expires_at = draft.expires_at
    news.pinned = draft.pinned
    # Only letters to parents are confirmed.
    news.needs_confirmation = draft.needs_confirmation and draft.audience == Audience.PARENTS
    news.reply_choices = draft.reply_choices.strip() if news.needs_confirmation else ""
    if news.expires_at is not None and news.expires_at <= news.published_at:
        raise NewsRefusal(_("The news must be shown until a time after it is published."))
    news.full_clean(exclude=["groups"])


@transaction.atomic
def post(actor: User, draft: Draft, upload_ids: Iterable[str] = ()) -> News:
    """Post news (now or at `draft.published_at`); its readers are notified when it is due."""
    if not access.participates(actor) or not may_post(actor):
        raise PermissionDenied
    groups = draft.groups if draft.audience in (Audience.GROUPS, Audience.PARENTS) else []
    _check_audience(actor, draft.audience, groups)
    now = timezone.now()
    news = News(school_id=actor.school_id, author=actor)
    _apply(news, draft, now)
    news.save()
    news.groups.set(groups)
    attach_uploads(actor, news, upload_ids)
    audit.record(actor.school_id, actor, "news.posted", news, audience=news.audience)
    announce_due(actor.school_id, now)
    return news


@transaction.atomic
def edit(actor: User, news: News, draft: Draft, upload_ids: Iterable[str] = ()) -> News:
    """Change news; readers see "edited" with the time once it was published."""
    if not can_manage(actor, news):
        raise PermissionDenied
    groups = draft.groups if draft.audience in (Audience.GROUPS, Audience.PARENTS) else []
    _check_audience(actor, draft.audience, groups)
    now = timezone.now()
    was_published = news.published_at <= now
    _apply(news, draft, now)
    if was_published:
        news.edited_at = now
    news.save()
    news.groups.set(groups)
    attach_uploads(actor, news, upload_ids)
    audit.record(news.school_id, actor, "news.edited", news)
    announce_due(news.school_id, now)
    return news


@transaction.atomic
def delete(actor: User, news: News) -> None:
    if not can_manage(actor, news):
        raise PermissionDenied
    audit.record(news.school_id, actor, "news.deleted", news)
    news.delete()


def attach_uploads(actor: User, news: News, upload_ids: Iterable[str]) -> list[NewsAttachment]:
    """Attach the files the poster uploaded through the form's upload field (tus)."""
    ids = [str(value) for value in upload_ids if value]
    if not ids:
        return []
    try:
        uploads = list(
            Upload.objects.for_school(actor.school_id).filter(
                pk__in=ids, user=actor, purpose=UPLOAD_PURPOSE, blob__isnull=False
            )
        )
    except ValidationError:  # not a UUID: nothing of theirs
        return []
    return [add_attachment(actor, news, upload.blob, upload.filename) for upload in uploads]


def add_attachment(actor: User, news: News, blob: Blob, filename: str) -> NewsAttachment:
    if not can_manage(actor, news):
        raise PermissionDenied
    attachment, _created = NewsAttachment.objects.for_school(news.school_id).get_or_create(
        news=news, blob=blob, filename=filename
    )
    return attachment


def remove_attachment(actor: User, attachment: NewsAttachment) -> None:
    if not can_manage(actor, attachment.news):
        raise PermissionDenied
    attachment.delete()


# --- Announcing: notifications when news is due -----------------------------------------


def announce_due(school_id: int | None = None, now: datetime | None = None) -> int:
    """Mark the published news not yet announced (of one school, or all) and publish
    `news.published` for each after commit; returns how many. Called after every post and
    edit, and every minute by `kreide news-announce` for scheduled news."""
    now = now or timezone.now()
    due = News.unscoped.filter(announced_at__isnull=True, published_at__lte=now).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    if school_id is not None:
        due = due.filter(school_id=school_id)
    with transaction.atomic():
        found = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True))
        # The update renews the schools' cached news too (News feeds news_scope, apps.py).
        News.unscoped.filter(pk__in=found).update(announced_at=now)
        for pk in found:
            events.news_published.publish(news_id=pk)
    return len(found)


# --- Readers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reader:
    """What decides which news a person reads: the rules of this module's docstring, once
    as a query (`visible`) and once for cached news (`reads`, the dashboard)."""

    user_id: int
    admin: bool = False
    staff: bool = False
    groups: frozenset[int] = frozenset()  # active groups they are in (member or teacher)
    parents_of: frozenset[int] = frozenset()  # groups whose letters home they read

    @classmethod
    def _make(cls, user: User, roles: dict[int, str]) -> Reader:
        if access.is_admin_of(user, user.school_id):
            return cls(user.pk, admin=True, staff=True)
        if user.is_parent:
            return cls(user.pk, parents_of=frozenset(access.children_group_ids(user)))
        taught = frozenset(pk for pk, role in roles.items() if role == access.TEACHER)
        return cls(user.pk, staff=user.is_teacher, groups=frozenset(roles), parents_of=taught)

    @classmethod
    def of(cls, user: User) -> Reader:
        return cls._make(user, {} if user.is_parent else access.group_roles(user))

    @classmethod
    def of_request(cls, request: HttpRequest) -> Reader:
        """From the groups the request loaded already (no query but a parent's children)."""
        user = request.user
        roles = (
            {} if user.is_parent else {m.group_id: m.role for m in access.memberships_of(request)}
        )
        return cls._make(user, roles)

    def reads(self, news: News) -> bool:
        """For news with `group_ids` set; published and not expired is the caller's part."""
        if self.admin or news.author_id == self.user_id:
            return True
        match news.audience:
            case Audience.SCHOOL:
                return True
            case Audience.STAFF:
                return self.staff
            case Audience.GROUPS:
                return bool(self.groups & news.group_ids)
            case Audience.PARENTS:
                return bool(self.parents_of & news.group_ids)
        return False

    def audience_filter(self) -> Q:
        """For anyone but the school office (who reads everything)."""
        found = Q(audience=Audience.SCHOOL)
        if self.staff:
            found |= Q(audience=Audience.STAFF)
        if self.groups:
            found |= Q(audience=Audience.GROUPS, pk__in=_with_groups(self.groups))
        if self.parents_of:
            found |= Q(audience=Audience.PARENTS, pk__in=_with_groups(self.parents_of))
        return found


def _with_groups(group_ids: Iterable[int]) -> QuerySet:
    return News.groups.through.objects.filter(group_id__in=list(group_ids)).values("news_id")


def visible(user: User, *, now: datetime | None = None) -> QuerySet[News]:
    """The news `user` may read now, pinned first then newest. Authors see their own also
    scheduled or expired, and the school office all of the school's (it manages them)."""
    if not access.participates(user):
        return News.unscoped.none()
    news = News.objects.for_school(user.school_id)
    reader = Reader.of(user)
    if reader.admin:
        return news
    now = now or timezone.now()
    current = Q(published_at__lte=now) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    return news.filter((current & reader.audience_filter()) | Q(author=user))


def readable(user: User, pk: int) -> News:
    """One news `user` may read, PermissionDenied otherwise (404 for another school's)."""
    found = visible(user).filter(pk=pk).first()
    if found is None:
        raise PermissionDenied
    return found


def reader_ids(news: News) -> set[int]:
    """Everyone the news is for (active accounts), for its notification."""
    school = news.school_id
    people = User.objects.for_school(school).filter(is_active=True)
    if news.audience == Audience.SCHOOL:
        return set(people.values_list("pk", flat=True))
    if news.audience == Audience.STAFF:
        return set(
            people.filter(role__in=[User.Role.TEACHER, User.Role.SCHOOL_ADMIN]).values_list(
                "pk", flat=True
            )
        )
    groups = list(news.groups.values_list("pk", flat=True))
    if news.audience == Audience.GROUPS:
        return {user_id for user_id, _role in access.roster(school, groups)}
    return set(
        people.filter(
            role=User.Role.PARENT, pk__in=access.parents_of_groups(school, groups)
        ).values_list("pk", flat=True)
    )


# --- Parent letters ---------------------------------------------------------------------


@dataclass
class ChildRow:
    """One child a letter asks about: their parents, and the receipt if confirmed."""

    child: User
    groups: list[str]
    parents: list[User]
    receipt: Receipt | None = None


def letter_children(news: News) -> list[ChildRow]:
    """Every active student of the letter's active groups with their parents and receipt,
    in three queries whatever the class size."""
    groups = list(news.groups.filter(is_active=True).values_list("pk", "name"))
    names = dict(groups)
    rows: dict[int, ChildRow] = {}
    for child, group_id in access.members_in_order(news.school_id, list(names)):
        row = rows.setdefault(child.pk, ChildRow(child, [], []))
        row.groups.append(names[group_id])
    for child_id, parents in access.parents_by_child(news.school_id, list(rows)).items():
        rows[child_id].parents.extend(parents)
    for receipt in (
        Receipt.objects.for_school(news.school_id)
        .filter(news=news, child_id__in=rows)
        .select_related("parent")
    ):
        rows[receipt.child_id].receipt = receipt
    return list(rows.values())


def require_author(user: User, news: News) -> None:
    """The confirmation list and reminders are for whoever may manage the letter."""
    if not news.is_letter or not can_manage(user, news):
        raise PermissionDenied


def children_to_confirm(parent: User, news: News) -> list[tuple[User, Receipt | None]]:
    """The parent's children the letter asks about, each with its receipt (or None)."""
    if not (news.is_letter and parent.is_parent):
        return []
    groups = news.groups.filter(is_active=True).values("pk")
    kids = list(access.children_in_groups(parent, groups))
    receipts = {
        r.child_id: r
        for r in Receipt.objects.for_school(news.school_id)
        .filter(news=news, child__in=kids)
        .select_related("parent")
    }
    return [(kid, receipts.get(kid.pk)) for kid in kids]


@transaction.atomic
def confirm(parent: User, news: News, child: User, choice: str = "") -> Receipt:
    """A parent confirms the letter for one child; a second confirmation changes nothing."""
    pending = {kid.pk: receipt for kid, receipt in children_to_confirm(parent, news)}
    if child.pk not in pending or news.published_at > timezone.now():
        raise PermissionDenied
    if pending[child.pk] is not None:
        raise NewsRefusal(
            _("%(name)s's parents have already confirmed this letter.")
            % {"name": child.get_full_name()},
            status=409,
        )
    if news.choices and choice not in news.choices:
        raise NewsRefusal(_("Please choose one of the answers."))
    if not news.choices:
        choice = ""
    receipt, created = Receipt.objects.for_school(news.school_id).get_or_create(
        news=news, child=child, defaults={"parent": parent, "choice": choice}
    )
    if not created:  # the other parent was quicker, in a parallel request
        raise NewsRefusal(
            _("%(name)s's parents have already confirmed this letter.")
            % {"name": child.get_full_name()},
            status=409,
        )
    audit.record(news.school_id, parent, "letter.confirmed", news, child=child.pk, choice=choice)
    return receipt


@transaction.atomic
def remind(actor: User, news: News) -> int:
    """Notify the parents of every child without a receipt; returns how many parents.
    Once per REMIND_INTERVAL: a double click or an impatient author does not flood them."""
    require_author(actor, news)
    news = News.objects.for_school(news.school_id).select_for_update().get(pk=news.pk)
    now = timezone.now()
    if news.reminded_at is not None and now - news.reminded_at < REMIND_INTERVAL:
        raise NewsRefusal(
            _("The parents were reminded at %(time)s; the next reminder is possible an hour later.")
            % {"time": timezone.localtime(news.reminded_at).strftime("%H:%M")},
            status=429,
        )
    parents = {
        parent.pk for row in letter_children(news) if row.receipt is None for parent in row.parents
    }
    audit.record(news.school_id, actor, "letter.reminded", news, parents=len(parents))
    if parents:
        news.reminded_at = now
        news.save(update_fields=["reminded_at"])
        events.letter_reminder.publish(news_id=news.pk, parent_ids=sorted(parents))
    return len(parents)


def receipts_csv(news: News, rows: list[ChildRow]) -> str:
    """The confirmation list as CSV (`;`, UTF-8 with BOM so spreadsheet programs read the
    umlauts): one line per child."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [
            _("Class or group"),
            _("Last name"),
            _("First name"),
            _("Parents"),
            _("Confirmed"),
            _("Confirmed by"),
            pgettext("letter", "Reply"),
        ]
    )
    for row in rows:
        receipt = row.receipt
        writer.writerow(
            [
                ", ".join(row.groups),
                _csv_cell(row.child.last_name),
                _csv_cell(row.child.first_name),
                _csv_cell(", ".join(p.get_full_name() for p in row.parents)),
                timezone.localtime(receipt.confirmed_at).strftime("%d.%m.%Y %H:%M")
                if receipt
                else "",
                _csv_cell(receipt.parent.get_full_name()) if receipt and receipt.parent else "",
                _csv_cell(receipt.choice) if receipt else "",
            ]
        )
    return out.getvalue()


def _csv_cell(value: str) -> str:
    """A name cannot become a spreadsheet formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
