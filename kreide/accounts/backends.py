from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.query import get_related_populators
from django.utils import timezone

from kreide.accounts.gate import former_student

_SENTINEL_PK = -732_194_661  # stands for the id while the query is compiled
_SENTINEL_NAME = "kreide-sentinel-username-7c1e"  # and for the identifier
_SENTINEL_EMAIL = "kreide-sentinel-email-7c1e"


class _CompiledUsers:
    """A query for users with its SQL built once per process: building it cost about half
    of a query's CPU. Rows become models exactly as the ORM makes them (from_db, the school
    through Django's related populator, the fields' converters, annotations as attributes).
    `sentinels` are the values in `queryset` that `fetch()` replaces, in its order."""

    def __init__(self, queryset: QuerySet, *sentinels: Any) -> None:
        self.db = queryset.db
        compiler = queryset.query.get_compiler(self.db)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.positions = [self.params.index(sentinel) for sentinel in sentinels]
        select, klass_info = compiler.select, compiler.klass_info
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.model = klass_info["model"]
        self.attnames = [column[0].target.attname for column in select[self.start : self.end]]
        self.annotations = list(compiler.annotation_col_map.items())
        self.populators = get_related_populators(klass_info, select, self.db)
        self.compiler = compiler
        self.converters = compiler.get_converters([column[0] for column in select])

    def fetch(self, *values: Any) -> list[Any]:
        params = list(self.params)
        for position, value in zip(self.positions, values, strict=True):
            params[position] = value
        with connections[self.db].cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        users = []
        for row in rows:
            user = self.model.from_db(self.db, self.attnames, row[self.start : self.end])
            for populator in self.populators:
                populator.populate(row, user)
            for name, index in self.annotations:
                setattr(user, name, row[index])
            users.append(user)
        return users


class _Queries:
    """The compiled queries of this process, built on first use (after the apps load)."""

    def __init__(self) -> None:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        users = get_user_model()._default_manager.select_related("school").order_by()
        self.by_id = _CompiledUsers(users.filter(pk=_SENTINEL_PK), _SENTINEL_PK)
        # Sign-in: at most two candidates (two means none), with whether the account has
        # two-factor on, which the sign-in asks next (kreide.accounts.twofactor.is_enabled).
        candidates = users.annotate(
            has_two_factor=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
        )
        self.by_username = _CompiledUsers(
            candidates.filter(username__iexact=_SENTINEL_NAME)[:2], _SENTINEL_NAME
        )
        self.by_username_or_email = _CompiledUsers(
            candidates.filter(
                Q(username__iexact=_SENTINEL_NAME) | Q(email__iexact=_SENTINEL_EMAIL)
            )[:2],
            _SENTINEL_NAME,
            _SENTINEL_EMAIL,
        )


_queries: _Queries | None = None


def _compiled() -> _Queries:
    global _queries
    if _queries is None:
        _queries = _Queries()
    return _queries


class UsernameOrEmailBackend(ModelBackend):
    """Sign in with the username or the e-mail address (case-insensitive)."""

    def authenticate(self, request, username=None, password=None, former_students=False, **kwargs):
        """`former_students`: the sign-in page lets a graduate's or leaver's deactivated
        account in (read-only, accounts.gate); every other caller (WebDAV) refuses it."""
        if not username or password is None:
            return None
        identifier = username.strip()
        queries = _compiled()
        # What the ORM does to an iexact value on this database (SQLite escapes LIKE).
        value = connections[queries.by_username.db].ops.prep_for_iexact_query(identifier)
        if "@" in identifier:
            candidates = queries.by_username_or_email.fetch(value, value)
        else:
            candidates = queries.by_username.fetch(value)
        if len(candidates) != 1:
            # Run the hasher anyway so an unknown name costs as long as a wrong password.
            get_user_model()().set_password(password)
            return None
        user = candidates[0]
        if user.check_password(password) and (
            self.user_can_authenticate(user) or (former_students and former_student(user))
        ):
            return user
        return None

    def get_user(self, user_id):
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except Exception:  # a session with a malformed id: nobody
            return None
        users = _compiled().by_id.fetch(pk)
        user = users[0] if len(users) == 1 else None
        if user is None or not (self.user_can_authenticate(user) or former_student(user)):
            return None
        return user


def note_last_login(sender: Any, user: Any, **kwargs: Any) -> None:
    """Replaces Django's `update_last_login` (a `save()` with its signals, nobody listens):
    last_login tells the day of the last sign-in, written at the first sign-in of a day.
    Nothing reads it finer (the operator's admin shows it; no retention rule reads it)."""
    now = timezone.now()
    if user.last_login and timezone.localdate(user.last_login) == timezone.localdate(now):
        return
    user.last_login = now
    model = type(user)
    connection = connections[router.db_for_write(model, instance=user)]
    table, column, pk = (
        connection.ops.quote_name(name)
        for name in (model._meta.db_table, "last_login", model._meta.pk.column)
    )
    with connection.cursor() as cursor:  # names from the model, values bound
        cursor.execute(
            f"UPDATE {table} SET {column} = %s WHERE {pk} = %s",  # noqa: S608
            [connection.ops.adapt_datetimefield_value(now), user.pk],
        )
