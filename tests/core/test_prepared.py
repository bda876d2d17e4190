"""Prepared querysets: the ORM's results, with the SQL built once per shape."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import gettext_lazy

from kreide.accounts.models import User
from kreide.core.prepared import PreparedInsert, PreparedQuery, any_rows
from kreide.news.models import News
from kreide.schools.models import Group, Membership
from kreide.storage.models import Blob, Upload
from kreide.tasks.models import Submission


def _memberships(school_id, user_ids):
    return (
        Membership.objects.for_school(school_id)
        .filter(user_id__in=user_ids, group__is_active=True)
        .select_related("group")
        .order_by("user_id", "group__name")
    )


def _compilations(monkeypatch) -> list[int]:
    built = []
    original = SQLCompiler.as_sql

    def counting(compiler, *args, **kwargs):
        built.append(1)
        return original(compiler, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "as_sql", counting)
    return built


def test_models_with_select_related_as_the_orm_gives_them(world, monkeypatch):
    prepared = PreparedQuery(_memberships)
    users = [world.student_7a.pk, world.student_7b.pk]
    expected = list(_memberships(world.school.pk, users))
    built = _compilations(monkeypatch)

    with CaptureQueriesContext(connection) as first:
        found = prepared.list(world.school.pk, users)
    assert [(m.pk, m.group.name, m.user_id) for m in found] == [
        (m.pk, m.group.name, m.user_id) for m in expected
    ]
    with CaptureQueriesContext(connection) as second:
        other = prepared.list(world.school.pk, [world.teacher_7a.pk, world.classmate_7a.pk])

    assert len(built) == 1  # the second call of the same shape reused the SQL
    assert {m.user_id for m in other} == {world.teacher_7a.pk, world.classmate_7a.pk}
    assert len(first.captured_queries) == len(second.captured_queries) == 1
    # The select_related group came with the row: reading it costs no query.
    with CaptureQueriesContext(connection) as reading:
        assert {m.group.name for m in other} == {"7a"}
    assert not reading.captured_queries


def test_values_list_and_another_school(world):
    prepared = PreparedQuery(
        lambda school_id, user_id: (
            Membership.objects.for_school(school_id)
            .filter(user_id=user_id)
            .values_list("group__name", flat=True)
        )
    )
    assert prepared.list(world.school.pk, world.student_7b.pk) == ["7b"]
    # The school is a parameter like any other: no row of the first school leaks.
    assert prepared.list(world.other_school.pk, world.student_7b.pk) == []


def test_each_length_of_a_list_has_its_sql_and_an_empty_list_asks_nothing(world):
    prepared = PreparedQuery(
        lambda school_id, names: (
            Group.objects.for_school(school_id)
            .filter(pk__in=names)
            .order_by("name")
            .values_list("name", flat=True)
        )
    )
    both = [world.class_7b.pk, world.class_7a.pk]
    assert prepared.list(world.school.pk, both) == ["7a", "7b"]
    assert prepared.list(world.school.pk, [world.class_7b.pk]) == ["7b"]
    with CaptureQueriesContext(connection) as queries:
        assert prepared.list(world.school.pk, []) == []
    assert not queries.captured_queries


def test_an_argument_the_orm_transforms_is_refused(world):
    prepared = PreparedQuery(
        lambda school_id, part: Group.objects.for_school(school_id).filter(name__icontains=part)
    )
    with pytest.raises(ValueError, match="not passed to the SQL"):
        prepared.list(world.school.pk, "7")
    with pytest.raises(TypeError):
        prepared.list(world.school.pk, True)


def test_set_prefetched_answers_like_a_prefetch(world):
    from kreide.core.prepared import set_prefetched

    group = world.class_7a
    rows = list(Membership.objects.for_school(world.school.pk).filter(group=group))
    assert rows
    fresh = type(group)._base_manager.get(pk=group.pk)
    set_prefetched(fresh, "memberships", rows)
    with CaptureQueriesContext(connection) as reading:
        assert list(fresh.memberships.all()) == rows
        assert all(row.group is fresh for row in fresh.memberships.all())
    assert not reading.captured_queries


def test_the_columns_converters_are_worked_out_once(world, monkeypatch):
    prepared = PreparedQuery(_memberships)
    users = [world.student_7a.pk]
    asked = []
    original = SQLCompiler.get_converters

    def counting(compiler, expressions):
        asked.append(1)
        return original(compiler, expressions)

    monkeypatch.setattr(SQLCompiler, "get_converters", counting)
    first = prepared.list(world.school.pk, users)
    again = prepared.list(world.school.pk, users)
    assert [(m.pk, m.group.name, m.joined_at) for m in again] == [
        (m.pk, m.group.name, m.joined_at) for m in first
    ]
    assert len(asked) == 1


def test_a_datetime_is_passed_as_the_database_takes_it(world, monkeypatch):
    from datetime import datetime, timedelta

    from django.utils import timezone

    from kreide.news.models import News

    now = timezone.now()
    for title, days in (("old", -2), ("new", 0)):
        News.unscoped.create(school=world.school, title=title, published_at=now + timedelta(days))
    prepared = PreparedQuery(
        lambda school_id, until: (
            News.objects.for_school(school_id)
            .filter(published_at__lte=until)
            .order_by("published_at")
            .values_list("title", flat=True)
        )
    )
    assert prepared.list(world.school.pk, now - timedelta(days=1)) == ["old"]
    built = _compilations(monkeypatch)
    assert prepared.list(world.school.pk, now + timedelta(hours=1)) == ["old", "new"]
    # Another time zone, the same moment.
    later = timezone.localtime(now + timedelta(hours=1), timezone.get_fixed_timezone(-600))
    assert prepared.list(world.school.pk, later) == ["old", "new"]
    assert built == []
    with pytest.raises(TypeError, match="naive"):
        prepared.list(world.school.pk, datetime(2026, 1, 1))


def test_an_insert_keeps_the_instances_times_and_numbers_the_row(world):
    blob = PreparedInsert(Blob).insert(Blob(sha256="a" * 64, size=3, created_at=timezone.now()))
    assert blob.pk is not None and not blob._state.adding
    started = timezone.now() - timedelta(minutes=5)  # auto_now_add would take the present
    upload = Upload(
        school_id=world.school.pk,
        user=world.student_7a,
        purpose="file",
        filename="Bild.png",
        metadata={"filename": "Bild.png", "ordner": "Ä"},
        length=3,
        offset=3,
        blob=blob,
        created_at=started,
        updated_at=started,
        result={"id": 1},
    )
    with CaptureQueriesContext(connection) as inserting:
        PreparedInsert(Upload).insert(upload)
    assert len(inserting.captured_queries) == 1
    stored = Upload.objects.for_school(world.school).get(pk=upload.pk)
    assert (stored.created_at, stored.updated_at) == (started, started)
    assert stored.metadata == {"filename": "Bild.png", "ordner": "Ä"}
    assert (stored.result, stored.blob_id, stored.user_id) == (
        {"id": 1},
        blob.pk,
        world.student_7a.pk,
    )


def test_an_upsert_returns_the_new_row_or_the_existing_one_updated(world):
    record = PreparedInsert(Blob, conflict=["sha256"], update=["stored_at"])
    first = timezone.now() - timedelta(days=3)
    new = record.row(Blob(sha256="b" * 64, size=5, created_at=first, stored_at=first))
    assert (new.size, new.created_at, new.stored_at) == (5, first, first)
    later = timezone.now()
    with CaptureQueriesContext(connection) as again:
        existing = record.row(Blob(sha256="b" * 64, size=99, created_at=later, stored_at=later))
    assert len(again.captured_queries) == 1
    # Only the named field changed; the row's own values come back, converted.
    assert (existing.pk, existing.size, existing.created_at) == (new.pk, 5, first)
    assert existing.stored_at == later and not existing._state.adding
    assert Blob.objects.get(pk=new.pk).stored_at == later


def _comparable(value):
    # The backend's JSON adapter (psycopg's Jsonb) does not compare by its content.
    return type(value), getattr(value, "obj", value)


def test_an_inserts_values_are_prepared_as_django_prepares_them(world):
    """Each column as `get_db_prep_save()` gives it: the values prepared in one call (str,
    int, bool, aware datetimes, None) and the others, which go Django's way."""
    now = timezone.now()
    rows = [
        Upload(
            school_id=world.school.pk,
            user=world.student_7a,
            purpose="file",
            filename="Bild.png",
            metadata={"ordner": "Ä"},
            length=3,
            offset=0,
            created_at=now,
            updated_at=now,
        ),
        Upload(
            school_id=str(world.school.pk),
            user_id=world.student_7a.pk,
            purpose=gettext_lazy("file"),
            filename="x",
            metadata={},
            length="7",
            offset=True,
            created_at=now,
            updated_at=now,
            completed_at=now,
            result={"id": 1},
        ),
        Submission(
            school_id=world.school.pk,
            task_id=1,
            student_id=world.student_7a.pk,
            status="draft",
            changed_at=now,
            submitted_at=now,
            points=Decimal("7.5"),
        ),
        Blob(sha256="c" * 64, size=2**40, created_at=now, stored_at=now),
    ]
    for row in rows:
        insert = PreparedInsert(type(row))
        expected = [
            field.get_db_prep_save(getattr(row, field.attname), connection)
            for field in insert.fields
        ]
        prepared = insert._params(row, connection.alias)
        assert [_comparable(value) for value in prepared] == [
            _comparable(value) for value in expected
        ]


def test_a_model_whose_saves_are_listened_to_is_refused(world):
    with pytest.raises(ImproperlyConfigured, match="receivers"):
        PreparedInsert(News).insert(News(school=world.school, title="Ferien"))


def test_any_rows_asks_whether_each_query_has_rows_in_one_statement(world):
    named = PreparedQuery(
        lambda school_id, username: User.objects.filter(school_id=school_id, username=username)
    )
    among = PreparedQuery(
        lambda school_id, ids: User.objects.filter(school_id=school_id, pk__in=ids)
    )
    school = world.school.pk
    queries = [
        (named, (school, world.student_7a.username)),
        (named, (school, "niemand")),
        (among, (school, [])),  # an empty list asks nothing, as list() does
        (among, (school, [world.teacher_7a.pk, -1])),
        (among, (world.other_school.pk, [world.teacher_7a.pk])),
    ]
    with CaptureQueriesContext(connection) as queries_run:
        found = any_rows(queries)
    assert found == [bool(prepared.list(*args)) for prepared, args in queries]
    assert found == [True, False, False, True, False] and len(queries_run) == 1
