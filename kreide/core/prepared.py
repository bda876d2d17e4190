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

A `PreparedInsert` is the same for a write the hottest paths make (an upload's rows): one
row's INSERT, or upsert, with its SQL written once from the model's columns instead of
`save()` building it on every call.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connections, router
from django.db.models import (
    AutoField,
    BigAutoField,
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKey,
    IntegerField,
    Model,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    QuerySet,
    SmallAutoField,
    SmallIntegerField,
    TextField,
)
from django.db.models.signals import post_save, pre_save

# Placeholders: within any integer column's range, so Django keeps them as they are.
_BASE = 2_000_000_000
# A datetime placeholder: a moment no real argument names (each argument its own second).
_MOMENT = datetime(2999, 1, 1, tzinfo=UTC)
_UNBUILT = object()


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

    def params_for(self, args: Sequence[Any]) -> list:
        """The SQL's parameters with `args` in their places."""
        params = list(self.params)
        for position, index, item in self.slots:
            arg = args[index] if item is None else args[index][item]
            params[position] = self.adapt(arg) if isinstance(arg, datetime) else arg
        return params

    def run(self, args: Sequence[Any]) -> list:
        params = self.params_for(args)
        sql, state, compiler_class, db = self.sql, self.compiler_state, self.compiler_class, self.db
        kept = self.converters

        def get_compiler(using: str | None = None, connection: Any = None, elide_empty=True):
            compiler = compiler_class.__new__(compiler_class)
            vars(compiler).update(state)
            compiler.connection = connection or connections[using or db]
            compiler.as_sql = lambda *args, **kwargs: (sql, params)
            if kept is not None:
                compiler.get_converters = partial(_kept_converters, kept, compiler)
                # Known when built (no composite column): the compiler asks again on every
                # run, an isinstance() per column (~45 Python calls for a user and school).
                compiler.has_composite_fields = _no_composite_fields
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


def _no_composite_fields(expressions: list) -> bool:
    return False


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
            compiled = self._build(shape, stand_ins)
        return [] if compiled is None else compiled.run(args)

    def _build(self, shape: tuple, stand_ins: list) -> _Compiled | None:
        """The SQL of one shape of the arguments, kept; None: it asks nothing."""
        try:
            compiled = _Compiled(self.build(*stand_ins), stand_ins)
        except EmptyResultSet:  # an empty `__in` list: nothing to ask, as in the ORM
            if 0 not in shape:
                raise
            compiled = None
        self._compiled[shape] = compiled
        return compiled


def any_rows(queries: Sequence[tuple[PreparedQuery, Sequence[Any]]]) -> list[bool]:
    """For each (prepared, args): whether `prepared.list(*args)` has a row, asked in one
    statement (`SELECT EXISTS (…), EXISTS (…)`, each the very SQL `list()` runs) for a
    page whose reads are mostly empty: one query instead of one each. The queries share
    one database."""
    compiled = []
    for prepared, args in queries:
        shape, stand_ins = _placeholders(args)
        built = prepared._compiled.get(shape, _UNBUILT)
        compiled.append((prepared._build(shape, stand_ins) if built is _UNBUILT else built, args))
    asked = [(found, args) for found, args in compiled if found is not None]
    if not asked:
        return [False] * len(compiled)
    if len({found.db for found, _args in asked}) > 1:
        raise ValueError("any_rows() asks one database")
    sql = "SELECT " + ", ".join(f"EXISTS ({found.sql})" for found, _args in asked)
    params = [param for found, args in asked for param in found.params_for(args)]
    with connections[asked[0][0].db].cursor() as cursor:
        cursor.execute(sql, params)
        answers = iter(cursor.fetchone())
    return [found is not None and bool(next(answers)) for found, _args in compiled]


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


class PreparedInsert:
    """One row of `model` inserted (or upserted) with SQL built once per database.

    Every concrete column is written as the instance holds it (its defaults come from the
    constructor); unlike `save()`, no `pre_save()` runs, so the instance names the times
    of `auto_now`/`auto_now_add` fields itself (a time taken earlier, such as an upload's
    start, stays as it was taken), and no signals are sent: a model somebody listens to
    (one that feeds fragments, say) is refused. With `conflict` (the columns of a unique
    constraint) a row that exists gets the `update` fields from the instance instead, and
    is locked as by an UPDATE.
    """

    def __init__(
        self, model: type[Model], conflict: Sequence[str] = (), update: Sequence[str] = ()
    ) -> None:
        meta = model._meta
        if conflict and not update:
            raise ValueError("an upsert names the fields it updates")
        self.model = model
        # Every column but a primary key the database numbers.
        self.fields = [field for field in meta.concrete_fields if field is not meta.auto_field]
        self.conflict = [meta.get_field(name) for name in conflict]
        self.update = [meta.get_field(name) for name in update]
        self._sql: dict[tuple[str, bool], str] = {}
        self._kept: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._savers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _statement(self, using: str, whole_row: bool) -> str:
        try:
            return self._sql[using, whole_row]
        except KeyError:
            pass
        # Asked when first used: receivers connect in the apps' ready().
        if pre_save.has_listeners(self.model) or post_save.has_listeners(self.model):
            raise ImproperlyConfigured(
                f"{self.model._meta.label}: its save() signals have receivers"
            )
        quote = connections[using].ops.quote_name
        meta = self.model._meta
        columns = ", ".join(quote(field.column) for field in self.fields)
        values = ", ".join(["%s"] * len(self.fields))
        sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
        if self.conflict:
            target = ", ".join(quote(field.column) for field in self.conflict)
            changes = ", ".join(
                f"{quote(field.column)} = EXCLUDED.{quote(field.column)}" for field in self.update
            )
            sql += f" ON CONFLICT ({target}) DO UPDATE SET {changes}"
        returned = (
            meta.concrete_fields if whole_row else [meta.auto_field] if meta.auto_field else []
        )
        if returned:
            sql += " RETURNING " + ", ".join(quote(field.column) for field in returned)
        self._sql[using, whole_row] = sql
        return sql

    def _params(self, instance: Model, using: str) -> list:
        connection = connections[using]
        savers = self._savers.get(connection)
        if savers is None:
            savers = self._savers[connection] = [
                (field.attname, _saver(field, connection)) for field in self.fields
            ]
        return [save(getattr(instance, attname)) for attname, save in savers]

    def insert(self, instance: Model) -> Model:
        """Insert `instance` (no upsert); the primary key the database numbered is set on
        it, as `save()` does."""
        if self.conflict:
            raise TypeError("an upsert returns its row: use row()")
        using = router.db_for_write(self.model, instance=instance)
        with connections[using].cursor() as cursor:  # names from the model, values bound
            cursor.execute(self._statement(using, False), self._params(instance, using))
            if self.model._meta.auto_field:
                instance.pk = cursor.fetchone()[0]
        instance._state.adding, instance._state.db = False, using
        return instance

    def row(self, instance: Model) -> Model:
        """Insert `instance`, or with `conflict` update the row it meets: that row as the
        database now holds it, every column converted as a query's are."""
        using = router.db_for_write(self.model, instance=instance)
        connection = connections[using]
        with connection.cursor() as cursor:  # names from the model, values bound
            cursor.execute(self._statement(using, True), self._params(instance, using))
            values = list(cursor.fetchone())
        for index, functions, column in self._converters(connection):
            value = values[index]
            for function in functions:
                value = function(value, column, connection)
            values[index] = value
        meta = self.model._meta
        return self.model.from_db(using, [field.attname for field in meta.concrete_fields], values)

    def _converters(self, connection: Any) -> list:
        """(position, converters, column) of each column that has converters, as the
        compiler works them out; kept per connection (each thread has its own)."""
        kept = self._kept.get(connection)
        if kept is None:
            kept = []
            meta = self.model._meta
            for index, field in enumerate(meta.concrete_fields):
                column = field.get_col(meta.db_table)
                functions = connection.ops.get_db_converters(column) + column.get_db_converters(
                    connection
                )
                if functions:
                    kept.append((index, functions, column))
            self._kept[connection] = kept
        return kept


_AS_THEY_ARE = {CharField: str, TextField: str, BooleanField: bool}
_INTEGERS = (
    IntegerField,
    BigIntegerField,
    SmallIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
)
_AUTO = (AutoField, BigAutoField, SmallAutoField)


def _saver(field: Field, connection: Any) -> Callable[[Any], Any]:
    """`field.get_db_prep_save(value, connection)` in one call for the values whose
    preparation is known, instead of Django's eight to ten (each an upload's rows' ~40
    columns): a str of a CharField or TextField and a bool of a BooleanField as they are, an
    int of an integer field adapted as the backend adapts it, an aware datetime of a
    DateTimeField likewise, an int of a foreign key to an automatic primary key validated
    as such a key's; None where Django passes it through. Any other field or value goes
    Django's way (exact field types only: a subclass may prepare otherwise)."""
    generic = partial(field.get_db_prep_save, connection=connection)
    ops, kind = connection.ops, type(field)

    if kind in _AS_THEY_ARE:
        plain = _AS_THEY_ARE[kind]

        def save(value: Any) -> Any:
            return value if value is None or type(value) is plain else generic(value)

    elif kind in _INTEGERS:
        internal_type, adapt = field.get_internal_type(), ops.adapt_integerfield_value

        def save(value: Any) -> Any:
            if value is None or type(value) is int:
                return adapt(value, internal_type)
            return generic(value)

    elif kind is DateTimeField:
        adapt_datetime = ops.adapt_datetimefield_value

        def save(value: Any) -> Any:
            if value is None or (type(value) is datetime and value.utcoffset() is not None):
                return adapt_datetime(value)
            return generic(value)

    elif kind is ForeignKey and type(field.target_field) in _AUTO:
        validate = ops.validate_autopk_value

        def save(value: Any) -> Any:
            if value is None:
                return None
            return validate(value) if type(value) is int else generic(value)

    else:
        save = generic
    return save
