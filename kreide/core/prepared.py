"""Querysets whose SQL is built once per process.

Building a query's SQL (`filter()`, the joins, the compiler) costs Django 1–2 ms of CPU
on the hottest reads of every page, several times what the database needs to answer
them. A `PreparedQuery` builds its queryset once per shape of its arguments with
placeholder values, keeps the compiled SQL and runs every later call with the real
values through the ORM's own iteration: models, `values_list()`, `select_related()`,
converters and prefetches come out exactly as from the queryset itself.

The arguments may be ints, strings, aware datetimes (compared with a DateTimeField: the
database's adaptation, as Django does it, is applied to each call's value) or lists of
ints (an `__in` list: one SQL per length). The build function must use them only as
filter values (an argument that decides the query's shape, or a value Django transforms,
as `__icontains` does, is refused when the query is first built). Not caught: a string
Django escapes only when it holds `%`, `_` or a backslash (`__iexact`/`__contains` on
SQLite's LIKE); such a caller escapes the value itself, as the sign-in backend does.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import Model, QuerySet

# Placeholders: within any integer column's range, so Django keeps them as they are.
_BASE = 2_000_000_000
# A datetime placeholder: a moment no real argument names (each argument its own second).
_MOMENT = datetime(2999, 1, 1, tzinfo=UTC)


def _placeholders(args: Sequence[Any]) -> tuple[tuple, list]:
    """The shape of `args` (the key of their SQL) and placeholder arguments for it."""
    shape, stand_ins = [], []
    for index, arg in enumerate(args):
        if isinstance(arg, bool) or not isinstance(arg, int | str | list | tuple | datetime):
            raise TypeError(f"argument {index}: {type(arg).__name__} is not prepared")
        if isinstance(arg, datetime):
            if arg.utcoffset() is None:  # Django would make it aware, with a warning
                raise TypeError(f"argument {index}: a naive datetime is not prepared")
            shape.append("datetime")
            stand_ins.append(_MOMENT + timedelta(seconds=index))
        elif isinstance(arg, list | tuple):
            if len(arg) >= 99_999:
                raise ValueError(f"argument {index}: a list of {len(arg)} is not prepared")
            shape.append(len(arg))
            stand_ins.append([_BASE + 100_000 * index + item for item in range(len(arg))])
        elif isinstance(arg, str):
            shape.append("str")
            stand_ins.append(f"\x00prepared-{index}")
        else:
            shape.append("int")
            stand_ins.append(_BASE + 100_000 * index + 99_999)
    return tuple(shape), stand_ins


class _Compiled:
    """One shape's SQL, the compiler's state after building it and where each argument
    goes among the parameters."""

    def __init__(self, queryset: QuerySet, stand_ins: list) -> None:
        if queryset._prefetch_related_lookups:
            # Their querysets run later, with the placeholders: prefetch after the call.
            raise ValueError("a prepared query cannot prefetch: use set_prefetched()")
        self.queryset = queryset
        self.db = queryset.db
        compiler = queryset.query.get_compiler(using=self.db)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.compiler_class = type(compiler)
        self.compiler_state = {k: v for k, v in vars(compiler).items() if k != "connection"}
        # A datetime reaches the SQL as the backend adapts it (SQLite: a string in UTC).
        self.adapt = connections[self.db].ops.adapt_datetimefield_value
        where = {}
        for index, stand_in in enumerate(stand_ins):
            if isinstance(stand_in, datetime):
                stand_in = self.adapt(stand_in)
            items = stand_in if isinstance(stand_in, list) else [stand_in]
            for item_index, item in enumerate(items):
                where[item] = (index, item_index if isinstance(stand_in, list) else None)
        self.slots = [
            (position, *where[param])
            for position, param in enumerate(self.params)
            if param in where
        ]
        missing = set(where) - {self.params[position] for position, _, _ in self.slots}
        if missing:
            raise ValueError(f"arguments not passed to the SQL as they are: {sorted(missing)}")
        # The columns' converters, which the compiler works out again on every run: kept
        # per connection (each thread has its own). Not for composite columns, whose
        # converters the compiler asks for column by column through the same method.
        selected = [column[0] for column in compiler.select[: compiler.col_count]]
        self.converters: weakref.WeakKeyDictionary | None = (
            None if compiler.has_composite_fields(selected) else weakref.WeakKeyDictionary()
        )

    def run(self, args: Sequence[Any]) -> list:
        params = list(self.params)
        for position, index, item in self.slots:
            arg = args[index] if item is None else args[index][item]
            params[position] = self.adapt(arg) if isinstance(arg, datetime) else arg
        sql, state, compiler_class, db = self.sql, self.compiler_state, self.compiler_class, self.db
        kept = self.converters

        def get_compiler(using: str | None = None, connection: Any = None, elide_empty=True):
            compiler = compiler_class.__new__(compiler_class)
            vars(compiler).update(state)
            compiler.connection = connection or connections[using or db]
            compiler.as_sql = lambda *args, **kwargs: (sql, params)
            if kept is not None:
                compiler.get_converters = partial(_kept_converters, kept, compiler)
            return compiler

        # Shallow copies: the built queryset and its query stay as they are for the next call.
        template = self.queryset
        query = object.__new__(type(template.query))
        vars(query).update(vars(template.query))
        query.get_compiler = get_compiler
        queryset = object.__new__(type(template))
        vars(queryset).update(vars(template))
        queryset._query, queryset._result_cache, queryset._prefetch_done = query, None, False
        return list(queryset)


def _kept_converters(kept: weakref.WeakKeyDictionary, compiler: Any, expressions: list) -> dict:
    converters = kept.get(compiler.connection)
    if converters is None:
        converters = kept[compiler.connection] = type(compiler).get_converters(
            compiler, expressions
        )
    return converters


class PreparedQuery:
    """`build(*args)` -> a queryset; `prepared.list(*args)` is `list(build(*args))` with
    the SQL built once per process for each shape of the arguments."""

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self.build = build
        self._compiled: dict[tuple, _Compiled | None] = {}

    def list(self, *args: Any) -> list:
        shape, stand_ins = _placeholders(args)
        try:
            compiled = self._compiled[shape]
        except KeyError:
            try:
                compiled = _Compiled(self.build(*stand_ins), stand_ins)
            except EmptyResultSet:  # an empty `__in` list: nothing to ask, as in the ORM
                if 0 not in shape:
                    raise
                compiled = None
            self._compiled[shape] = compiled
        return [] if compiled is None else compiled.run(args)


def set_prefetched(instance: Model, name: str, objects: list) -> None:
    """Leave the reverse foreign key `instance.<name>` as `prefetch_related_objects()`
    does, with `objects` (from a prepared query) as its rows: `.all()` answers from them
    without a query, and each object's foreign key back to `instance` is cached. The
    prefetch itself builds its SQL on every call."""
    manager = getattr(instance, name)
    field = manager.field
    for obj in objects:
        if not field.is_cached(obj):
            field.set_cached_value(obj, instance)
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    queryset = manager.get_queryset()  # the relation's filter is deferred: no SQL built
    queryset._result_cache = objects
    queryset._prefetch_done = True
    instance._prefetched_objects_cache[field.remote_field.cache_name] = queryset
