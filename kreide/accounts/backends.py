from __future__ import annotations

import threading
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import connections, router
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from kreide.accounts import keptuser
from kreide.accounts.gate import former_student
from kreide.core.prepared import PreparedQuery


def _users(with_school: bool = True) -> QuerySet:
    users = get_user_model()._default_manager.order_by()
    return users.select_related("school") if with_school else users


def _with_two_factor(users: QuerySet) -> QuerySet:
    """With whether the account has two-factor on, which the sign-in asks next
    (kreide.accounts.twofactor.is_enabled): one query instead of two."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    confirmed = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    return users.annotate(has_two_factor=Exists(confirmed))


def _by_name(with_school: bool) -> PreparedQuery:
    return PreparedQuery(
        lambda name: _with_two_factor(_users(with_school)).filter(username__iexact=name)[:2]
    )


def _by_name_or_email(with_school: bool) -> PreparedQuery:
    return PreparedQuery(
        lambda name, email: _with_two_factor(_users(with_school)).filter(
            Q(username__iexact=name) | Q(email__iexact=email)
        )[:2]
    )


# Every signed-in request loads its user, every sign-in looks one up: their SQL is built
# once per process. Sign-in asks for two candidates at most (two means none); by
# `with_school` (authenticate's), the account with its school or without.
_BY_ID = PreparedQuery(lambda pk: _users().filter(pk=pk))
_BY_USERNAME = {with_school: _by_name(with_school) for with_school in (True, False)}
_BY_USERNAME_OR_EMAIL = {
    with_school: _by_name_or_email(with_school) for with_school in (True, False)
}

# One password hash at a time per process: Granian runs one worker per core, and two
# argon2id verifications interleaved on one core cost each about 8 % more CPU than one
# after the other (their 19 MiB evict each other from the caches; thread CPU on one pinned
# core: alone 19.6 ms, two at once 21.1 ms, two under this lock 19.9 ms). Waiting costs
# nothing: the second finishes no later than it would have sharing the core. (The mail
# service's logins run in their own process.)
_ONE_HASH = threading.Lock()


class UsernameOrEmailBackend(ModelBackend):
    """Sign in with the username or the e-mail address (case-insensitive)."""

    def authenticate(
        self,
        request,
        username=None,
        password=None,
        former_students=False,
        with_school=True,
        **kwargs,
    ):
        """`former_students`: the sign-in page lets a graduate's or leaver's deactivated
        account in (read-only, accounts.gate); every other caller (WebDAV) refuses it.
        `with_school` False: the school's row is not loaded with the account (the sign-in
        page: nothing reads it before the next request loads the user anew)."""
        if not username or password is None:
            return None
        identifier = username.strip()
        # What the ORM does to an iexact value on this database (SQLite escapes LIKE's
        # wildcards); prepared queries pass values as they are.
        database = router.db_for_read(get_user_model())
        value = connections[database].ops.prep_for_iexact_query(identifier)
        if "@" in identifier:
            candidates = _BY_USERNAME_OR_EMAIL[with_school].list(value, value)
        else:
            candidates = _BY_USERNAME[with_school].list(value)
        if len(candidates) != 1:
            # Run the hasher anyway so an unknown name costs as long as a wrong password.
            with _ONE_HASH:
                get_user_model()().set_password(password)
            return None
        user = candidates[0]
        with _ONE_HASH:
            correct = user.check_password(password)
        if correct and (
            self.user_can_authenticate(user) or (former_students and former_student(user))
        ):
            return user
        return None

    def get_user(self, user_id):
        try:
            pk = get_user_model()._meta.pk.to_python(user_id)
        except Exception:  # a session with a malformed id: nobody
            return None
        if not isinstance(pk, int):
            return None
        user = keptuser.kept(pk)  # this process's copy while its versions say it is current
        if user is not None:
            return user
        users = _BY_ID.list(pk)
        user = users[0] if len(users) == 1 else None
        if user is None or not (self.user_can_authenticate(user) or former_student(user)):
            return None
        keptuser.keep(user)
        return user


# note_last_login's statement per database alias, written when first used.
_LAST_LOGIN_UPDATES: dict[str, str] = {}


def note_last_login(sender: Any, user: Any, request: Any = None, **kwargs: Any) -> None:
    """Replaces Django's `update_last_login` (a `save()` with its signals, nobody listens):
    last_login tells the day of the last sign-in, written at the first sign-in of a day.
    Nothing reads it finer (the operator's admin shows it; no retention rule reads it).
    Written with the new session's INSERT where the session store can (one statement)."""
    now = timezone.now()
    if user.last_login and timezone.localdate(user.last_login) == timezone.localdate(now):
        return
    user.last_login = now
    model = type(user)
    using = router.db_for_write(model, instance=user)
    connection = connections[using]
    sql = _LAST_LOGIN_UPDATES.get(using)
    if sql is None:
        table, column, pk = (
            connection.ops.quote_name(name)
            for name in (model._meta.db_table, "last_login", model._meta.pk.column)
        )
        sql = f"UPDATE {table} SET {column} = %s WHERE {pk} = %s"  # noqa: S608 names from the model
        _LAST_LOGIN_UPDATES[using] = sql
    params = [connection.ops.adapt_datetimefield_value(now), user.pk]
    session = getattr(request, "session", None)
    write_on_creation = getattr(session, "write_on_creation", None)
    if write_on_creation is not None and write_on_creation(using, sql, params):
        return
    with connection.cursor() as cursor:  # values bound
        cursor.execute(sql, params)
