"""Everything that changes folders and files. Views, the upload purpose and WebDAV all
come through here, so the permission checks and name rules are the same everywhere."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable
from datetime import timedelta
from enum import IntEnum
from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import CharField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Concat, Substr
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kreide.core import audit, fragments
from kreide.core.errors import Refusal
from kreide.core.prepared import PreparedQuery
from kreide.files.models import (
    MIB,
    AppPassword,
    FileSettings,
    GroupWriter,
    Node,
    PublicLink,
    Share,
    Space,
)
from kreide.schools import access
from kreide.schools.models import Group
from kreide.storage import collector
from kreide.storage.blobstore import check_room, store_bytes, store_file
from kreide.storage.filenames import safe_filename
from kreide.storage.models import Blob
from kreide.storage.uploads import file_type_refusal

TRASH_DAYS = 30

audit.declare(
    {
        "files.shared": gettext_lazy("Shared with a person or group"),
        "files.unshared": gettext_lazy("Sharing ended"),
        "files.link_created": gettext_lazy("Public internet link created"),
        "files.link_revoked": gettext_lazy("Public internet link revoked"),
        "files.writers_changed": gettext_lazy("Write permission in a class folder changed"),
        "files.quota_changed": gettext_lazy("Storage quota changed"),
        "files.app_password_created": gettext_lazy("App password created"),
        "files.app_password_revoked": gettext_lazy("App password revoked"),
    }
)


class FileError(Refusal):
    """A request on files that cannot be carried out; `message` is shown to the user."""

    code = "file_refused"


class NameClash(FileError):
    status, code = 409, "name_clash"


class InvalidName(FileError):
    code = "invalid_name"


class QuotaExceeded(FileError):
    status, code = 413, "quota_exceeded"


class BlockedType(FileError):
    code = "blocked_type"


class Level(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


class Actor:
    """A user plus the group facts every permission check needs, fetched once."""

    def __init__(self, user) -> None:
        self.user = user
        self.school_id = user.school_id
        self._roles: dict[int, str] | None = None
        self._writer_groups: set[int] | None = None
        self._shared: list[tuple[str, int, bool]] | None = None

    @classmethod
    def of_request(cls, request) -> Actor:
        """The signed-in user with the groups already loaded for this request."""
        actor = cls(request.user)
        actor._roles = {m.group_id: m.role for m in access.memberships_of(request)}
        return actor

    @property
    def roles(self) -> dict[int, str]:
        if self._roles is None:
            self._roles = access.group_roles(self.user)
        return self._roles

    @property
    def writer_groups(self) -> set[int]:
        if self._writer_groups is None:
            self._writer_groups = (
                set(
                    GroupWriter.objects.for_school(self.school_id)
                    .filter(user=self.user)
                    .values_list("group_id", flat=True)
                )
                if self.school_id
                else set()
            )
        return self._writer_groups

    def space_level(self, space: Space) -> Level:
        if not self.school_id or space.school_id != self.school_id:
            return Level.NONE
        if space.user_id is not None:
            return Level.WRITE if space.user_id == self.user.pk else Level.NONE
        role = self.roles.get(space.group_id)
        if role is None:
            return Level.NONE
        if role == access.TEACHER or space.group_id in self.writer_groups:
            return Level.WRITE
        return Level.READ

    @property
    def shared(self) -> list[tuple[str, int, bool]]:
        """(path, space id, may write) of every live node shared with this user."""
        if self._shared is None:
            self._shared = (
                list(
                    Share.objects.for_school(self.school_id)
                    .filter(
                        Q(user=self.user) | Q(group_id__in=list(self.roles)), node__deleted_at=None
                    )
                    .values_list("node__path", "node__space_id", "can_write")
                )
                if self.school_id
                else []
            )
        return self._shared

    def level(self, node: Node) -> Level:
        """What this user may do with `node` (and, through it, its subtree)."""
        if node.school_id != self.school_id or node.deleted_at is not None:
            return Level.NONE
        level = self.space_level(node.space)
        for path, _space, can_write in self.shared if level < Level.WRITE else ():
            if node.path.startswith(path):
                level = max(level, Level.WRITE if can_write else Level.READ)
        return level

    def leads_to_share(self, node: Node) -> bool:
        """Whether something shared with the user lies below `node` (WebDAV shows the way)."""
        return node.deleted_at is None and any(
            path.startswith(node.path) for path, _space, _write in self.shared
        )

    def require(self, node: Node, needed: Level) -> None:
        if self.level(node) < needed:
            raise PermissionDenied


# --- Spaces ------------------------------------------------------------------------------


# The files page's reads (every visit), their SQL built once per process (per number of
# spaces or groups where a list is passed).
_SPACE_OF = {
    owner: PreparedQuery(
        lambda school_id, owner_id, owner=owner: (
            Space.objects.for_school(school_id).filter(**{owner: owner_id}).order_by("pk")[:1]
        )
    )
    for owner in ("user_id", "group_id")
}


def _spaces_query(school_id: int, user_id: int, group_ids: list[int], figures: bool) -> QuerySet:
    """The user's space and those of their groups, the groups by name; with `figures`
    each also with its root folder's id, the bytes of its files (the trash included) and
    the school's default quotas."""
    query = (
        Space.objects.for_school(school_id)
        .filter(Q(user=user_id) | Q(group__in=group_ids))  # the school's active groups
        .select_related("group")
        .order_by("group__grade", "group__name", "pk")
    )
    if not figures:
        return query
    nodes = Node.objects.for_school(school_id).filter(space=OuterRef("pk")).order_by()
    defaults = FileSettings.objects.for_school(school_id).order_by("pk")
    return query.annotate(
        root_id=Subquery(nodes.filter(parent=None).values("pk")[:1]),
        used=Coalesce(
            Subquery(
                nodes.filter(is_folder=False)
                .values("space")
                .annotate(total=Sum("size"))
                .values("total")
            ),
            0,
        ),
        school_user_quota_mb=Subquery(defaults.values("user_quota_mb")[:1]),
        school_group_quota_mb=Subquery(defaults.values("group_quota_mb")[:1]),
    )


_SPACES = {
    figures: PreparedQuery(partial(_spaces_query, figures=figures)) for figures in (False, True)
}
_USAGE = PreparedQuery(
    lambda school_id, ids: (
        Node.objects.for_school(school_id)
        .filter(space__in=ids, is_folder=False)
        .values("space_id")
        .annotate(total=Sum("size"))
        .order_by()
    )
)
_FILE_SETTINGS = PreparedQuery(
    lambda school_id: FileSettings.objects.for_school(school_id).order_by("pk")[:1]
)


def _create_spaces(school_id: int, owners: list[dict[str, int]]) -> list[Space]:
    """New spaces of `owners` ({"user_id": …} or {"group_id": …}), in that order, each with
    its root folder: three statements in one transaction, whatever their number (a space
    never exists without its root). Another request creating one of them at this moment
    makes it raise IntegrityError (the unique owner), once that request has committed."""
    with transaction.atomic():
        spaces = Space.objects.for_school(school_id).bulk_create(
            [Space(school_id=school_id, **owner) for owner in owners]
        )
        roots = Node.objects.for_school(school_id).bulk_create(
            [Node(school_id=school_id, space=space, name="", is_folder=True) for space in spaces]
        )
        Node.unscoped.filter(pk__in=[root.pk for root in roots]).update(
            path=Concat(Value("/"), Cast("pk", CharField()), Value("/"))
        )
    for space, root in zip(spaces, roots, strict=True):
        space.root_id = root.pk
    return spaces


def _space(school_id: int, **owner: int) -> Space:
    """The space of `owner` (user_id=… or group_id=…), created on first use."""
    ((kind, owner_id),) = owner.items()
    found = _SPACE_OF[kind].list(school_id, owner_id)
    if found:
        return found[0]
    try:
        return _create_spaces(school_id, [owner])[0]
    except IntegrityError:  # created by another request at this moment
        return _SPACE_OF[kind].list(school_id, owner_id)[0]


def provision_personal_spaces(school_id: int, user_ids: list[int]) -> None:
    """Each of these accounts' own space with its root folder, created with the account
    (`accounts.users_created`: an admin's or an import's new accounts) rather than on its
    first visit, so a student's folder is there at 8:00 and for a share before they ever
    sign in; one that exists is left. Whoever has none (an account from before, or made by
    the operator's admin) gets it on first use as before."""
    have = set(
        Space.objects.for_school(school_id)
        .filter(user_id__in=user_ids)
        .values_list("user_id", flat=True)
    )
    owners = [{"user_id": pk} for pk in dict.fromkeys(user_ids) if pk not in have]
    if not owners:
        return
    try:
        _create_spaces(school_id, owners)
    except IntegrityError:  # a first visit created one at this moment: one by one
        for owner in owners:
            _space(school_id, **owner)


def personal_space(user) -> Space:
    return _space(user.school_id, user_id=user.pk)


def group_space(group: Group) -> Space:
    return _space(group.school_id, group_id=group.pk)


def root_of(space: Space) -> Node:
    return (
        Node.objects.for_school(space.school_id)
        .select_related("space")
        .get(space=space, parent=None)
    )


def spaces_for(actor: Actor, *, figures: bool = False) -> list[Space]:
    """The user's personal space first, then the spaces of their active groups by name:
    one query once they exist. `figures`: each with `root_id`, `used` (bytes) and `quota`
    (bytes), in the same query."""
    if not actor.school_id:
        return []
    group_ids = list(actor.roles)
    args = (actor.school_id, actor.user.pk, group_ids)
    found = _SPACES[figures].list(*args)
    if len(found) < len(group_ids) + 1:  # a new user's or group's space: created first
        found = _with_new_spaces(actor, found, figures)
    own = next(space for space in found if space.user_id is not None)
    own.user = actor.user
    spaces = [own, *(space for space in found if space.user_id is None)]
    if figures:
        defaults = (  # the model's defaults where the school set none
            FileSettings(
                user_quota_mb=own.school_user_quota_mb, group_quota_mb=own.school_group_quota_mb
            )
            if own.school_user_quota_mb is not None
            else FileSettings()
        )
        for space in spaces:
            space.quota = _quota_of(space, defaults)
    return spaces


def _with_new_spaces(actor: Actor, found: list[Space], figures: bool) -> list[Space]:
    """`found` (spaces_for's query) and the spaces missing from it, created. A new user's
    own space (the usual case: their first visit) joins `found` as created, with no files
    and the school's quotas of `found`; new group spaces need their groups, so the query
    runs again."""
    present = {space.group_id for space in found}  # None: the user's own
    owners = [] if None in present else [{"user_id": actor.user.pk}]
    owners += [{"group_id": pk} for pk in actor.roles if pk not in present]
    try:
        created = _create_spaces(actor.school_id, owners)
    except IntegrityError:  # another request created some at this moment: one by one
        for owner in owners:
            _space(actor.school_id, **owner)
    else:
        if found and [space.user_id for space in created] == [actor.user.pk]:
            (own,) = created
            if figures:
                own.used = 0
                own.school_user_quota_mb = found[0].school_user_quota_mb
                own.school_group_quota_mb = found[0].school_group_quota_mb
            return [own, *found]
    return _SPACES[figures].list(actor.school_id, actor.user.pk, list(actor.roles))


def shared_with_me(user, limit: int, group_ids=None) -> list[Share]:
    """The latest shares others made with the user or their groups (one query).

    With `group_ids` (the user's groups, as the dashboard has them) the ids of the shares
    with the user and each group come from the fragment cache first, and without any
    (most students) there is no query at all."""
    if group_ids is None:
        groups = access.group_ids(user)
        candidates = None
    else:
        groups = list(group_ids)
        candidates = _share_candidates(user, groups)
        if not candidates:
            return []
    shares = Share.objects.for_school(user.school_id).filter(
        Q(user=user) | Q(group_id__in=groups), node__deleted_at=None
    )
    if candidates is not None:
        shares = shares.filter(pk__in=candidates)
    return list(
        shares.exclude(created_by=user)
        .select_related("node", "node__space__user", "node__space__group", "created_by")
        .order_by("-created_at")[:limit]
    )


def share_scope(user_id: int | None = None, group_id: int | None = None) -> str:
    return f"user:{user_id}:shares" if user_id else f"group:{group_id}:shares"


def share_scopes(entry: Share) -> list[str]:
    """A share feeds the cached share ids of its person or group (apps.py declares it)."""
    return [share_scope(user_id=entry.user_id, group_id=entry.group_id)]


@transaction.atomic
def share(actor: Actor, node: Node, *, user=None, group=None, can_write: bool = False) -> Share:
    """Share `node` with a person or a group of the school (again: the permission changes).
    Only who may write the whole space (its owner, the group's writers) shares from it."""
    if actor.space_level(node.space) < Level.WRITE:
        raise PermissionDenied
    shared, _created = Share.objects.for_school(node.school_id).update_or_create(
        school_id=node.school_id,
        node=node,
        user=user,
        group=group,
        defaults={"can_write": can_write, "created_by": actor.user},
    )
    audit.record(
        node.school_id,
        actor.user,
        "files.shared",
        node,
        user=shared.user_id,
        group=shared.group_id,
        can_write=can_write,
    )
    return shared


@transaction.atomic
def unshare(actor: Actor, entry: Share) -> None:
    if actor.space_level(entry.node.space) < Level.WRITE:
        raise PermissionDenied
    entry.delete()
    audit.record(
        entry.school_id,
        actor.user,
        "files.unshared",
        entry.node,
        user=entry.user_id,
        group=entry.group_id,
    )


# --- Public links, group writers, quotas, app passwords --------------------------------

PUBLIC_LINK_MAX_DAYS = 90


@transaction.atomic
def create_link(actor: Actor, node: Node, days: int) -> PublicLink:
    """A link anyone on the internet can open for `days` days: only from the owner's side,
    only where the school allows it."""
    if actor.space_level(node.space) < Level.WRITE:
        raise PermissionDenied
    if not actor.user.school.public_links_allowed:
        raise FileError(_("Your school has switched public links off."))
    if not 1 <= days <= PUBLIC_LINK_MAX_DAYS:
        raise FileError(
            _("A link can be valid for 1 to %(days)s days.") % {"days": PUBLIC_LINK_MAX_DAYS}
        )
    link = PublicLink.objects.for_school(node.school_id).create(
        node=node,
        token=secrets.token_urlsafe(24),
        expires_at=timezone.now() + timedelta(days=days),
        created_by=actor.user,
    )
    audit.record(node.school_id, actor.user, "files.link_created", node, days=days)
    return link


@transaction.atomic
def revoke_link(actor: Actor, link: PublicLink) -> None:
    if actor.space_level(link.node.space) < Level.WRITE:
        raise PermissionDenied
    link.delete()
    audit.record(link.school_id, actor.user, "files.link_revoked", link.node)


@transaction.atomic
def set_writers(actor: Actor, group: Group, user_ids: Iterable[int]) -> None:
    """Which members of `group` may write its folder (the group's teachers decide)."""
    if actor.roles.get(group.pk) != access.TEACHER:
        raise PermissionDenied
    members = {row["user_id"] for row in access.member_ids(group.school_id, [group])}
    chosen = set(user_ids) & members
    writers = GroupWriter.objects.for_school(group.school_id).filter(group=group)
    before = set(writers.values_list("user_id", flat=True))
    writers.exclude(user_id__in=chosen).delete()
    GroupWriter.unscoped.bulk_create(
        GroupWriter(school_id=group.school_id, group=group, user_id=uid, granted_by=actor.user)
        for uid in sorted(chosen - before)
    )
    if chosen != before:
        audit.record(
            group.school_id,
            actor.user,
            "files.writers_changed",
            group,
            added=sorted(chosen - before),
            removed=sorted(before - chosen),
        )


def _require_admin(actor: Actor) -> None:
    if not access.is_admin_of(actor.user, actor.school_id):
        raise PermissionDenied


@transaction.atomic
def set_default_quotas(actor: Actor, user_quota_mb: int, group_quota_mb: int) -> FileSettings:
    _require_admin(actor)
    found = FileSettings.objects.for_school(actor.school_id).first()
    settings = found or FileSettings(school_id=actor.school_id)
    before = [settings.user_quota_mb, settings.group_quota_mb]
    settings.user_quota_mb, settings.group_quota_mb = user_quota_mb, group_quota_mb
    settings.save()
    if before != [user_quota_mb, group_quota_mb] or found is None:
        audit.record(
            actor.school_id,
            actor.user,
            "files.quota_changed",
            user_quota_mb=[before[0], user_quota_mb],
            group_quota_mb=[before[1], group_quota_mb],
        )
    return settings


@transaction.atomic
def set_space_quota(actor: Actor, space: Space, quota_mb: int | None) -> None:
    """A quota of its own for one person's or group's folder (None: the school's default)."""
    _require_admin(actor)
    if space.school_id != actor.school_id:
        raise PermissionDenied
    before = space.quota_mb
    space.quota_mb = quota_mb
    space.save(update_fields=["quota_mb"])
    audit.record(
        space.school_id,
        actor.user,
        "files.quota_changed",
        space.user or space.group,
        quota_mb=[before, quota_mb],
    )


def app_password_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_app_password(actor: Actor, name: str) -> str:
    """A new app password for WebDAV (and mail) clients; the secret is shown once."""
    if not access.participates(actor.user):
        raise PermissionDenied
    secret = "-".join(secrets.token_hex(3) for _ in range(5))
    entry = AppPassword.objects.for_school(actor.school_id).create(
        user=actor.user, name=name, secret_sha256=app_password_hash(secret)
    )
    audit.record(
        actor.school_id, actor.user, "files.app_password_created", actor.user, name=entry.name
    )
    return secret


@transaction.atomic
def revoke_app_password(actor: Actor, pk: int) -> None:
    entry = AppPassword.objects.for_school(actor.school_id).filter(pk=pk, user=actor.user).first()
    if entry is None:
        return
    entry.delete()
    audit.record(
        actor.school_id, actor.user, "files.app_password_revoked", actor.user, name=entry.name
    )


def user_for_app_password(username: str, secret: str):
    """The active account this app password belongs to (WebDAV sign-in); notes its use."""
    match = (
        AppPassword.unscoped.filter(
            secret_sha256=app_password_hash(secret),
            user__username__iexact=username,
            user__is_active=True,
        )
        .select_related("user", "user__school")
        .first()
    )
    if match is None:
        return None
    AppPassword.unscoped.filter(pk=match.pk).update(last_used_at=timezone.now())
    return match.user


# The shares with some people or groups (built once per process and number of each).
_SHARES_WITH = PreparedQuery(
    lambda school_id, user_ids, group_ids: (
        Share.objects.for_school(school_id)
        .filter(Q(user_id__in=user_ids) | Q(group_id__in=group_ids))
        .values_list("pk", "user_id", "group_id")
    )
)


CANDIDATE_SECONDS = 3600  # how long the share ids of a person or group are cached


def _candidate_names(user, group_ids: list[int]) -> dict[str, tuple]:
    names = {_own_candidates_name(user): (user.pk, None)}
    names.update(
        (f"shares:{user.school_id}:group:{group_id}", (None, group_id)) for group_id in group_ids
    )
    return names


def _own_candidates_name(user) -> str:
    return f"shares:{user.school_id}:user:{user.pk}"


def own_candidates_query(user) -> tuple[str, PreparedQuery, tuple]:
    """The fragment of the ids of shares with `user` themself (read by shared_with_me()
    with `group_ids`), and the query and arguments whose rows make it."""
    return _own_candidates_name(user), _SHARES_WITH, (user.school_id, [user.pk], [])


def candidate_fragments(user, group_ids: list[int]) -> dict[str, list[str]]:
    """The fragments (name → scopes) shared_with_me(user, …, group_ids) reads first."""
    return {name: [share_scope(*key)] for name, key in _candidate_names(user, group_ids).items()}


def _share_candidates(user, group_ids: list[int]) -> list[int]:
    """Ids of every share with the user or one of their groups (whoever made it, whatever
    became of the node): a superset of what shared_with_me() shows, cached per user and
    per group until a share with them is written (`share_scopes`)."""
    names = _candidate_names(user, group_ids)

    def load(missing: list[str]) -> dict[str, list[int]]:
        users = [names[name][0] for name in missing if names[name][0]]
        groups = [names[name][1] for name in missing if names[name][1]]
        found: dict[tuple, list[int]] = {names[name]: [] for name in missing}
        for pk, user_id, group_id in _SHARES_WITH.list(user.school_id, users, groups):
            for key in ((user_id, None), (None, group_id)):
                if key in found:
                    found[key].append(pk)
        return {name: found[names[name]] for name in missing}

    cached = fragments.cached_many(
        candidate_fragments(user, group_ids), load, timeout=CANDIDATE_SECONDS
    )
    return sorted({pk for ids in cached.values() for pk in ids})


def space_label(space: Space) -> str:
    return _("My files") if space.user_id else space.group.name


# --- Quotas ------------------------------------------------------------------------------


def quota_bytes(space: Space) -> int:
    return quotas_of([space])[space.pk]


def quotas_of(spaces: list[Space]) -> dict[int, int]:
    """{space id: quota in bytes}; the school's defaults read once (a query if needed)."""
    defaults = None
    quotas = {}
    for space in spaces:
        if space.quota_mb is None and defaults is None:
            found = _FILE_SETTINGS.list(space.school_id)
            defaults = found[0] if found else FileSettings()
        quotas[space.pk] = _quota_of(space, defaults)
    return quotas


def _quota_of(space: Space, defaults: FileSettings | None) -> int:
    """The space's quota in bytes: its own, else the school's default (`defaults`)."""
    if space.quota_mb is not None:
        return space.quota_mb * MIB
    return (defaults.user_quota_mb if space.user_id else defaults.group_quota_mb) * MIB


def usage_bytes(space: Space) -> int:
    """Bytes of all files in the space, the trash included (it still occupies storage)."""
    total = Node.objects.for_school(space.school_id).filter(space=space, is_folder=False)
    return total.aggregate(total=Sum("size"))["total"] or 0


def usage_of(spaces: list[Space]) -> dict[int, int]:
    """{space id: usage_bytes(space)} of spaces of one school in one query."""
    if not spaces:
        return {}
    rows = _USAGE.list(spaces[0].school_id, [space.pk for space in spaces])
    used = {space.pk: 0 for space in spaces}
    used.update((row["space_id"], row["total"] or 0) for row in rows)
    return used


def check_quota(space: Space, extra: int) -> None:
    if extra > 0 and usage_bytes(space) + extra > quota_bytes(space):
        free = max(0, quota_bytes(space) - usage_bytes(space))
        raise QuotaExceeded(
            _("Not enough storage space: %(free)s MB free, the file needs %(size)s MB.")
            % {"free": _mb(free), "size": _mb(extra)}
        )


def lock_space(space_id: int) -> None:
    """Hold the space's row until commit. Names and quota in a space are claimed one
    transaction at a time: two uploads of "Bericht.pdf" at once become "Bericht.pdf" and
    "Bericht (2).pdf" instead of a unique-constraint error, and files arriving at once
    never exceed the quota together. One lock per space, so no lock order to get wrong."""
    Space.unscoped.select_for_update().only("pk").get(pk=space_id)


def reserve(space: Space, extra: int) -> None:
    """check_quota within the caller's transaction, counted after every other file that
    is arriving in the space at this moment."""
    if extra > 0:
        lock_space(space.pk)
    check_quota(space, extra)


def _mb(size: int) -> str:
    return f"{size / MIB:.1f}".replace(".", ",") if size < 10 * MIB else str(size // MIB)


# --- Names -------------------------------------------------------------------------------


def check_name(name: str) -> str:
    """The name in NFC if it can be stored as it is everywhere; else InvalidName.

    WebDAV refuses such names (a file manager must not find its file under another name);
    the web UI cleans names with `clean_name` instead."""
    name = unicodedata.normalize("NFC", name or "")
    if not name or name in (".", "..") or safe_filename(name) != name:
        raise InvalidName(_("“%(name)s” is not a valid file name.") % {"name": name})
    return name


def clean_name(name: str) -> str:
    return safe_filename(name)


def _allowed_type(node_is_folder: bool, name: str) -> str:
    """`name`, unless a file would get a type nobody may store (KREIDE_UPLOAD_BLOCKED_EXTENSIONS):
    every way a file gets its name (upload, WebDAV, rename, move, copy) passes here."""
    refusal = None if node_is_folder else file_type_refusal(name)
    if refusal:
        raise BlockedType(refusal)
    return name


_NUMBERED = re.compile(r"^(.*) \((\d+)\)$")


def free_name(parent: Node, name: str) -> str:
    """`name`, or "Datei (2).pdf", "Datei (3).pdf"… when the folder already has it."""
    taken = set(_live_children(parent).values_list("name", flat=True))
    if name not in taken:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension, dot = name, "", ""
    match = _NUMBERED.match(stem)
    base = match.group(1) if match else stem
    number = 2
    while f"{base} ({number}){dot}{extension}" in taken:
        number += 1
    return f"{base} ({number}){dot}{extension}"


def _live_children(parent: Node):
    return Node.objects.for_school(parent.school_id).filter(parent=parent, deleted_at=None)


def child(parent: Node, name: str) -> Node | None:
    return _live_children(parent).select_related("space", "blob").filter(name=name).first()


def children(parent: Node) -> list[Node]:
    return list(
        _live_children(parent).select_related("space", "blob").order_by("-is_folder", "name")
    )


def _claim_name(parent: Node, name: str, clash: str, replacing: Node | None = None) -> str:
    lock_space(parent.space_id)
    existing = child(parent, name)
    if existing is None or existing == replacing:
        return name
    if clash == "rename":
        return free_name(parent, name)
    raise NameClash(_("“%(name)s” already exists here.") % {"name": name})


# --- Creating ----------------------------------------------------------------------------


def insert_node(parent: Node, name: str, **fields) -> Node:
    """Add a node under `parent` without checks (callers check permission and name)."""
    node = Node.objects.for_school(parent.school_id).create(
        school_id=parent.school_id, space=parent.space, parent=parent, name=name, **fields
    )
    node.path = f"{parent.path}{node.pk}/"
    Node.unscoped.filter(pk=node.pk).update(path=node.path)
    return node


@transaction.atomic
def create_folder(actor: Actor, parent: Node, name: str, clash: str = "error") -> Node:
    actor.require(parent, Level.WRITE)
    _require_folder(parent)
    name = _claim_name(parent, name, clash)
    return insert_node(parent, name, is_folder=True, created_by=actor.user)


@transaction.atomic
def add_file(actor: Actor, parent: Node, name: str, blob: Blob, clash: str = "rename") -> Node:
    """Put `blob` into `parent` as `name`; clash: "rename", "error" or "replace"."""
    actor.require(parent, Level.WRITE)
    _require_folder(parent)
    _allowed_type(False, name)
    existing = child(parent, name)
    if existing is not None and clash == "replace" and not existing.is_folder:
        return replace_content(actor, existing, blob)
    reserve(parent.space, blob.size)
    name = _claim_name(parent, name, "rename" if clash == "replace" else clash)
    node = insert_node(parent, name, blob=blob, size=blob.size, created_by=actor.user)
    return node


def add_uploaded_files(actor: Actor, parent: Node, files: list) -> list[Node]:
    """The form upload (without JavaScript): names, types and quota of all files are checked
    before any content is stored; content a refusal leaves unused is freed at once.
    A full disk raises kreide.storage.blobstore.StorageFull with nothing of that file kept."""
    actor.require(parent, Level.WRITE)
    _require_folder(parent)
    if not files:
        raise FileError(_("Please choose a file."))
    names = [_allowed_type(False, clean_name(uploaded.name)) for uploaded in files]
    check_quota(parent.space, sum(uploaded.size for uploaded in files))
    check_room(sum(uploaded.size for uploaded in files))
    added = []
    for uploaded, name in zip(files, names, strict=True):
        blob = store_file(uploaded)
        try:
            added.append(add_file(actor, parent, name, blob))
        except (FileError, PermissionDenied):
            collector.release(blob)
            raise
    return added


def empty_blob() -> Blob:
    return store_bytes(b"")


@transaction.atomic
def replace_content(actor: Actor, node: Node, blob: Blob) -> Node:
    actor.require(node, Level.WRITE)
    if node.is_folder:
        raise FileError(_("A folder has no content of its own."))
    reserve(node.space, blob.size - node.size)
    node.blob, node.size = blob, blob.size
    node.save(update_fields=["blob", "size", "modified_at"])
    return node


@transaction.atomic
def ensure_folders(actor: Actor, parent: Node, relative_dirs: Iterable[str]) -> Node:
    """Walk (and create) the folders of an uploaded folder's relative path.

    The files of one folder upload complete at the same time: before creating a missing
    folder, lock the space and look again, so the second upload finds the first one's
    "Referat" instead of making "Referat (2)"."""
    for part in relative_dirs:
        name = clean_name(part)
        existing = child(parent, name)
        if existing is None:
            lock_space(parent.space_id)
            existing = child(parent, name)
        if existing is not None and existing.is_folder:
            parent = existing
        else:
            parent = create_folder(actor, parent, name, clash="rename")
    return parent


def _require_folder(node: Node) -> None:
    if not node.is_folder:
        raise FileError(_("This is not a folder."))


# --- Changing ----------------------------------------------------------------------------


@transaction.atomic
def rename(actor: Actor, node: Node, name: str, clash: str = "error") -> Node:
    if node.is_root:
        raise FileError(_("This folder cannot be renamed."))
    actor.require(node, Level.WRITE)  # a writable share may rename what it shares
    _allowed_type(node.is_folder, name)
    name = _claim_name(node.parent, name, clash, replacing=node)
    node.name = name
    node.save(update_fields=["name", "modified_at"])
    return node


def _subtree(node: Node):
    return Node.objects.for_school(node.school_id).filter(path__startswith=node.path)


@transaction.atomic
def move(
    actor: Actor, node: Node, target: Node, name: str | None = None, clash: str = "error"
) -> Node:
    if node.is_root:
        raise FileError(_("This folder cannot be moved."))
    actor.require(node.parent, Level.WRITE)
    actor.require(target, Level.WRITE)
    _require_folder(target)
    if target.path.startswith(node.path):
        raise FileError(_("A folder cannot be moved into itself."))
    _allowed_type(node.is_folder, name or node.name)
    if target.space_id != node.space_id:
        reserve(target.space, _subtree_size(node))
    name = _claim_name(target, name or node.name, clash, replacing=node)
    old_path, new_path = node.path, f"{target.path}{node.pk}/"
    _subtree(node).update(
        space=target.space,
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
    )
    Node.unscoped.filter(pk=node.pk).update(parent=target, name=name, modified_at=timezone.now())
    node.refresh_from_db()
    return node


def _subtree_size(node: Node) -> int:
    live = _subtree(node).filter(is_folder=False, deleted_at=None)
    return live.aggregate(total=Sum("size"))["total"] or 0


@transaction.atomic
def copy(
    actor: Actor,
    node: Node,
    target: Node,
    name: str | None = None,
    clash: str = "error",
    recursive: bool = True,
) -> Node:
    """Copy a file, or a folder with everything in it (the content itself is not
    duplicated: the copies point at the same blobs)."""
    actor.require(node, Level.READ)
    actor.require(target, Level.WRITE)
    _require_folder(target)
    if node.is_folder and recursive and target.path.startswith(node.path):
        raise FileError(_("A folder cannot be copied into itself."))
    _allowed_type(node.is_folder, name or node.name)
    reserve(target.space, _subtree_size(node) if recursive else node.size)
    name = _claim_name(target, name or node.name, clash)
    top = insert_node(
        target,
        name,
        is_folder=node.is_folder,
        blob_id=node.blob_id,
        size=node.size,
        created_by=actor.user,
    )
    copy_properties(node, top)
    if node.is_folder and recursive:
        copies = {node.pk: top}
        below = _subtree(node).filter(deleted_at=None).exclude(pk=node.pk)
        for original in sorted(below, key=lambda n: n.path.count("/")):
            duplicate = insert_node(
                copies[original.parent_id],
                original.name,
                is_folder=original.is_folder,
                blob_id=original.blob_id,
                size=original.size,
                created_by=actor.user,
            )
            copy_properties(original, duplicate)
            copies[original.pk] = duplicate
    return top


def copy_properties(source: Node, target: Node) -> None:
    from kreide.files.models import DeadProperty

    DeadProperty.objects.for_school(source.school_id).bulk_create(
        DeadProperty(school_id=target.school_id, node=target, name=prop.name, value=prop.value)
        for prop in DeadProperty.objects.for_school(source.school_id).filter(node=source)
    )


# --- Trash -------------------------------------------------------------------------------


@transaction.atomic
def trash(actor: Actor, node: Node) -> None:
    if node.is_root:
        raise FileError(_("This folder cannot be deleted."))
    actor.require(node.parent, Level.WRITE)
    _subtree(node).filter(deleted_at=None).update(
        deleted_at=timezone.now(), trash_root=node, deleted_by=actor.user
    )


def trash_entries(actor: Actor) -> list[Node]:
    writable = [space for space in spaces_for(actor) if actor.space_level(space) == Level.WRITE]
    return list(
        Node.objects.for_school(actor.school_id)
        .filter(space__in=writable, trash_root_id=F("pk"))
        .select_related("space", "space__group", "parent")
        .order_by("-deleted_at")
    )


@transaction.atomic
def restore(actor: Actor, node: Node) -> Node:
    node.refresh_from_db()
    if node.trash_root_id != node.pk:
        raise FileError(_("This item is not in the trash."))
    if actor.space_level(node.space) < Level.WRITE:
        raise PermissionDenied
    parent = node.parent
    if parent.deleted_at is not None:
        parent = root_of(node.space)  # its folder is gone too: back to the top
    if parent.pk != node.parent_id:
        old_path, new_path = node.path, f"{parent.path}{node.pk}/"
        _subtree(node).update(path=Concat(Value(new_path), Substr("path", len(old_path) + 1)))
    # Name first, while still in the trash: the unique-name rule only covers live nodes.
    Node.unscoped.filter(pk=node.pk).update(parent=parent, name=free_name(parent, node.name))
    Node.objects.for_school(node.school_id).filter(trash_root=node).update(
        deleted_at=None, trash_root=None, deleted_by=None
    )
    node.refresh_from_db()
    return node


def purge_trash(days: int = TRASH_DAYS) -> int:
    """Delete for good what has been in the trash longer than `days`; returns the count."""
    cutoff = timezone.now() - timedelta(days=days)
    expired = Node.unscoped.filter(trash_root_id=F("pk"), deleted_at__lt=cutoff)
    count = 0
    for pk in expired.values_list("pk", flat=True).iterator():
        with transaction.atomic():
            count += Node.unscoped.filter(pk=pk).delete()[1].get("files.Node", 0)
    return count
