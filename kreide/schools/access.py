"""Who may do what: the one place that answers membership and role questions.

Every module asks here instead of querying memberships itself, so the rules are the same
everywhere:

- An account takes part (`participates`) when it is signed in, active, belongs to a school
  and has no initial password left to change. Nothing else is granted to anyone else.
- A deactivated class or group grants nothing: it has no members and no teachers as far as
  permissions go (its content stays for the school's admins).
- An archived class (`Group.archived_year`, left behind by the school-year rollover) is
  inactive, so it grants nothing of the above; `archive_role` lets the people who were in
  it, and the parents of its students, read it.
- A graduate or leaver of the rollover signs in read-only (`signs_in_read_only`): they do
  not take part, so nothing above is theirs; they read their archives and ask for a copy
  of their own data.
- Account roles are `User.Role` (student, teacher, school admin, parent), group roles
  `Membership.Role` (member, teacher). A parent belongs to no group: they see their linked
  children (`children_of`, `is_parent_of`) and nothing else of the school.

Functions taking a user answer with one query at most; `memberships_of(request)` loads the
signed-in user's groups once per request for pages that ask several questions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

from kreide.accounts.gate import former_student
from kreide.accounts.models import User
from kreide.core.prepared import PreparedQuery
from kreide.parents.models import ParentLink
from kreide.schools.models import Group, Membership

MEMBER = Membership.Role.MEMBER
TEACHER = Membership.Role.TEACHER


# --- Accounts ---------------------------------------------------------------------------


def participates(user) -> bool:
    """Signed in, active, of a school, and past the forced password change."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.school_id
        and not user.must_change_password
    )


def signs_in_read_only(user) -> bool:
    """A former student (accounts.gate) past the forced password change: their archives and
    their own copy of their data, nothing else."""
    return former_student(user) and not user.must_change_password


def reads_archive(user) -> bool:
    """May read archives of past school years at all (which ones: `archived_groups`)."""
    return participates(user) or signs_in_read_only(user)


def is_admin_of(user, school) -> bool:
    """`user` administers `school` (a School or its id)."""
    return (
        participates(user)
        and user.role == User.Role.SCHOOL_ADMIN
        and school is not None
        and user.school_id == getattr(school, "pk", school)
    )


def require_admin(user, school) -> None:
    """PermissionDenied unless `user` administers `school` (a School or its id)."""
    if not is_admin_of(user, school):
        raise PermissionDenied


def school_admin_required(view: Callable) -> Callable:
    """View decorator: signed in (else the sign-in page) and a school admin (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not is_admin_of(request.user, request.user.school_id):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


# --- Groups -----------------------------------------------------------------------------


def _memberships(user) -> QuerySet[Membership]:
    """The user's memberships in active groups of their school (none unless they take part)."""
    if not participates(user):
        return Membership.unscoped.none()
    return active_memberships(user.school_id, user.pk)


def active_memberships(school_id: int, user_id: int) -> QuerySet[Membership]:
    """`_memberships()` by ids, for a caller that checked `participates()` itself (a
    prepared query, kreide.core.prepared, is built from ids)."""
    return Membership.objects.for_school(school_id).filter(user=user_id, group__is_active=True)


def group_ids(user, role: str | None = None) -> QuerySet:
    """The ids of the user's active groups (of one role if given), usable as a subquery."""
    found = _memberships(user)
    if role is not None:
        found = found.filter(role=role)
    return found.values("group_id")


def group_roles(user) -> dict[int, str]:
    """{group id: role} of the user's active groups (one query)."""
    return dict(_memberships(user).values_list("group_id", "role"))


def group_role(user, group: Group | int) -> str | None:
    """The user's role in `group` (a Group or its id), None if none or the group is inactive."""
    group_id = getattr(group, "pk", group)
    return _memberships(user).filter(group_id=group_id).values_list("role", flat=True).first()


def teaches_group(user, group: Group | int) -> bool:
    return participates(user) and user.is_teacher and group_role(user, group) == TEACHER


def taught_groups(user) -> QuerySet[Group]:
    """The active groups a teacher teaches (for school admins: the same, by membership)."""
    if not (participates(user) and user.is_teacher):
        return Group.unscoped.none()
    # A join, not a subquery: nested subqueries over memberships can get a bad plan.
    return Group.objects.for_school(user.school_id).filter(
        is_active=True, memberships__user=user, memberships__role=TEACHER
    )


def groups_for_teaching(user) -> QuerySet[Group]:
    """Where the user may teach: every active group of the school for its admins, else the
    taught ones."""
    if is_admin_of(user, user.school_id):
        return Group.objects.for_school(user.school_id).filter(is_active=True)
    return taught_groups(user)


def _group_id_list(groups) -> list[int]:
    """`groups` (Groups, ids or a queryset) as a list of ids. A queryset is read here, once:
    nested as a subquery of a subquery, PostgreSQL's planner may pick nested loops over
    whole tables (a demo school's task form took minutes with fresh statistics)."""
    if isinstance(groups, QuerySet):
        return list(groups.values_list("pk", flat=True))
    return [getattr(group, "pk", group) for group in groups]


def member_ids(school, groups, role: str | None = MEMBER) -> QuerySet:
    """The ids of the users with `role` (any role: None) in the active ones of `groups`
    (Groups, ids or a queryset) of `school`, usable as a subquery."""
    groups = _group_id_list(groups)
    memberships = Membership.objects.for_school(school).filter(
        group_id__in=groups, group__is_active=True
    )
    if role is not None:
        memberships = memberships.filter(role=role)
    return memberships.values("user_id")


def roster(school, groups) -> list[tuple[int, str]]:
    """(user id, role) of the active accounts in the active ones of `groups` of `school`:
    who a room or a list built from these groups is for."""
    groups = _group_id_list(groups)
    return list(
        Membership.objects.for_school(school)
        .filter(group_id__in=groups, group__is_active=True, user__is_active=True)
        .values_list("user_id", "role")
    )


def members_by_group(school, groups, account_role: str | None = None) -> dict[int, set[int]]:
    """For each of the active ones of `groups` (ids) of `school`, the ids of its active
    members with the role member (and the account role `account_role`, e.g. students only):
    one query, e.g. for counting many tasks' students or notifying the classes of many
    substitutions."""
    memberships = Membership.objects.for_school(school).filter(
        group_id__in=groups, group__is_active=True, role=MEMBER, user__is_active=True
    )
    if account_role is not None:
        memberships = memberships.filter(user__role=account_role)
    members: dict[int, set[int]] = {}
    for group_id, user_id in memberships.values_list("group_id", "user_id"):
        members.setdefault(group_id, set()).add(user_id)
    return members


def members_in_order(school, groups) -> list[tuple[User, int]]:
    """(account, group id) for each active account with the role member in the active ones
    of `groups` (ids) of `school`, by name: one query (e.g. a parent letter's children)."""
    return [
        (membership.user, membership.group_id)
        for membership in Membership.objects.for_school(school)
        .filter(group_id__in=groups, group__is_active=True, role=MEMBER, user__is_active=True)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "user_id")
    ]


def class_teacher_ids(school, student) -> set[int]:
    """The teachers of the active classes `student` (a User or its id) is a member
    of, whether or not the student takes part: a child who never signed in still has a
    class (two queries)."""
    classes = list(
        Membership.objects.for_school(school)
        .filter(
            user_id=getattr(student, "pk", student),
            role=MEMBER,
            group__kind=Group.Kind.CLASS,
            group__is_active=True,
        )
        .values_list("group_id", flat=True)
    )
    return set(member_ids(school, classes, TEACHER).values_list("user_id", flat=True))


def teaches(teacher, student) -> bool:
    """The teacher teaches an active class or group the student is a member of."""
    if not (
        participates(teacher) and teacher.is_teacher and teacher.school_id == student.school_id
    ):
        return False
    return (
        Membership.objects.for_school(teacher.school_id)
        .filter(
            user=student,
            role=MEMBER,
            group__is_active=True,
            group_id__in=group_ids(teacher, TEACHER),
        )
        .exists()
    )


# --- Parents ----------------------------------------------------------------------------


def children_of(user) -> QuerySet[User]:
    """The active student accounts linked to a parent (none for anyone else)."""
    if not (participates(user) and user.role == User.Role.PARENT):
        return User.objects.none()
    return (
        User.objects.for_school(user.school_id)
        .filter(
            pk__in=ParentLink.objects.for_school(user.school_id)
            .filter(parent=user)
            .values("child_id"),
            role=User.Role.STUDENT,
            is_active=True,
        )
        .order_by("first_name", "last_name", "pk")
    )


def is_parent_of(user, child) -> bool:
    """`user` is a parent linked to `child` (a User or its id), both of the same school."""
    child_id = getattr(child, "pk", child)
    return children_of(user).filter(pk=child_id).exists()


def children_group_ids(user, kind: str | None = None) -> set[int]:
    """The active groups (of `kind`, if given) a parent's children are members of: whose
    news for parents and letters home the parent reads (one query; none for non-parents)."""
    memberships = Membership.objects.for_school(user.school_id).filter(
        user__in=children_of(user), role=MEMBER, group__is_active=True
    )
    if kind is not None:
        memberships = memberships.filter(group__kind=kind)
    return set(memberships.values_list("group_id", flat=True))


def child_group_ids(user, child) -> list[int]:
    """The active groups a parent's linked `child` (a User or its id) is a member of, also
    before the child changed their initial password (a parent follows a child from the
    import on): what the child's page shows tasks, lessons and dates of. One query; none
    for anyone else's child."""
    return list(
        Membership.objects.for_school(user.school_id)
        .filter(
            user_id=getattr(child, "pk", child),
            user__in=children_of(user),
            role=MEMBER,
            group__is_active=True,
        )
        .values_list("group_id", flat=True)
    )


def children_in_groups(user, groups) -> QuerySet[User]:
    """A parent's children who are members of the active ones of `groups` (ids or a
    queryset, used as a subquery: one query in all)."""
    return children_of(user).filter(
        pk__in=Membership.objects.for_school(user.school_id)
        .filter(group_id__in=groups, role=MEMBER, group__is_active=True)
        .values("user_id")
    )


def parents_of_groups(school, groups) -> QuerySet:
    """The ids of the parents linked to an active member of the active ones of `groups`,
    usable as a subquery (a letter home's readers)."""
    return (
        ParentLink.objects.for_school(school)
        .filter(child__in=member_ids(school, groups), child__is_active=True)
        .values("parent_id")
    )


def parents_by_child(school, children) -> dict[int, list[User]]:
    """{child id: their active parents by name} for `children` (ids): one query."""
    found: dict[int, list[User]] = {}
    for link in (
        ParentLink.objects.for_school(school)
        .filter(child_id__in=children, parent__is_active=True)
        .select_related("parent")
        .order_by("parent__last_name", "parent__first_name")
    ):
        found.setdefault(link.child_id, []).append(link.parent)
    return found


def parent_contact_ids(user) -> QuerySet:
    """Whom a parent may write to: the school office, and the teachers of their children's
    classes where the school allows it (`School.parents_message_teachers`, the messenger's
    policy for parents), usable as a subquery."""
    if not (participates(user) and user.role == User.Role.PARENT):
        return User.objects.none().values("pk")
    contacts = Q(role=User.Role.SCHOOL_ADMIN)
    if user.school.parents_message_teachers:
        classes = list(children_group_ids(user, Group.Kind.CLASS))
        contacts |= Q(pk__in=member_ids(user.school_id, classes, TEACHER))
    return User.objects.for_school(user.school_id).filter(contacts, is_active=True).values("pk")


def classes(user) -> list[tuple[int, int | None]]:
    """The user's active classes as (group id, grade), e.g. for kreide.schedule."""
    return list(
        _memberships(user)
        .filter(group__kind=Group.Kind.CLASS)
        .values_list("group_id", "group__grade")
    )


# --- Archives of past school years ------------------------------------------------------
# The rollover (kreide.schoolyear) keeps last year's classes as archived, inactive groups
# with their memberships: who was in them is who may read them, and nobody may write.

PARENT = "parent"


def _archive_people(user) -> list[int]:
    """The people whose archived classes `user` may read: themselves, or a parent's
    children (also those who have left the school since)."""
    if user.role == User.Role.PARENT:
        return list(
            ParentLink.objects.for_school(user.school_id)
            .filter(parent=user)
            .values_list("child_id", flat=True)
        )
    return [user.pk]


def archived_groups(user) -> QuerySet[Group]:
    """The archived classes and groups the user was in (a parent: their children were in)."""
    if not reads_archive(user):
        return Group.unscoped.none()
    return (
        Group.objects.for_school(user.school_id)
        .exclude(archived_year="")
        .filter(
            pk__in=Membership.objects.for_school(user.school_id)
            .filter(user_id__in=_archive_people(user))
            .values("group_id")
        )
    )


def archive_role(user, group: Group) -> str | None:
    """MEMBER or TEACHER if the user was in the archived `group`, PARENT if one of their
    children was, else None (also for groups that are not archived)."""
    if not (reads_archive(user) and group.archived_year and group.school_id == user.school_id):
        return None
    roles = set(
        Membership.objects.for_school(user.school_id)
        .filter(group=group, user_id__in=_archive_people(user))
        .values_list("role", flat=True)
    )
    if not roles:
        return None
    if user.role == User.Role.PARENT:
        return PARENT
    return TEACHER if TEACHER in roles else MEMBER


def archived_children(user, group: Group) -> list[int]:
    """The ids of a parent's children who were members of the archived `group`."""
    return list(
        Membership.objects.for_school(group.school_id)
        .filter(group=group, role=MEMBER, user_id__in=_archive_people(user))
        .values_list("user_id", flat=True)
    )


# --- The signed-in user's groups, once per request -------------------------------------
# The dashboard's sections, the task pages, the schedule and the video module all ask about
# the signed-in user's groups; `memberships_of(request)` runs one query and keeps the answer
# on the request (nothing is kept across requests, so nothing needs invalidating).

_ATTRIBUTE = "_kreide_memberships"


@dataclass(frozen=True)
class MyGroup:
    group_id: int
    role: str
    name: str
    kind: str
    grade: int | None

    def get_kind_display(self) -> str:
        return str(dict(Group.Kind.choices).get(self.kind, self.kind))

    @property
    def is_member(self) -> bool:
        return self.role == MEMBER

    @property
    def is_teacher(self) -> bool:
        return self.role == TEACHER


# `_memberships(user)` of a user who takes part, its SQL built once per process.
_MY_GROUPS = PreparedQuery(
    lambda school_id, user_id: (
        Membership.objects.for_school(school_id)
        .filter(user_id=user_id, group__is_active=True)
        .order_by("group__grade", "group__name", "group_id")
        .values_list("group_id", "role", "group__name", "group__kind", "group__grade")
    )
)


def memberships_of(request: HttpRequest) -> list[MyGroup]:
    """The signed-in user's active groups with their role (one query per request)."""
    user = request.user
    found = getattr(request, _ATTRIBUTE, None)
    if found is None or found[0] != user.pk:
        rows = _MY_GROUPS.list(user.school_id, user.pk) if participates(user) else []
        found = (user.pk, [MyGroup(*row) for row in rows])
        setattr(request, _ATTRIBUTE, found)
    return found[1]


def request_group_ids(request: HttpRequest, role: str | None = None) -> list[int]:
    """`group_ids` of the signed-in user, from `memberships_of(request)`."""
    return [m.group_id for m in memberships_of(request) if role is None or m.role == role]


def request_classes(request: HttpRequest) -> list[tuple[int, int | None]]:
    """`classes` of the signed-in user, from `memberships_of(request)`."""
    return [(m.group_id, m.grade) for m in memberships_of(request) if m.kind == Group.Kind.CLASS]
