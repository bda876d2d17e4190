"""School scoping by construction.

Every model that belongs to a school inherits `SchoolScopedModel`. Its `objects` manager
refuses any query that does not name a school first: `Task.objects.for_school(school)`
works, `Task.objects.all()` raises `SchoolScopeError`. Code that must cross schools on
purpose (export, operator commands, migrations) says so with `Model.unscoped`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import models

from kreide.core.fragments import FeedingQuerySet

if TYPE_CHECKING:
    from kreide.schools.models import School


class SchoolScopeError(RuntimeError):
    """A query on school data did not name the school it is for."""


class SchoolScopedQuerySet(FeedingQuerySet):
    # The school this queryset was opened for; `create()` fills it in, so callers never
    # name the school twice, and a create for another school is refused.
    _school_id: int | None = None

    def _clone(self) -> SchoolScopedQuerySet:
        clone = super()._clone()
        clone._school_id = self._school_id
        return clone

    def for_school(self, school: School | int) -> SchoolScopedQuerySet:
        scoped = self.filter(school=school)
        scoped._school_id = getattr(school, "pk", school)
        return scoped

    def create(self, **fields: Any) -> models.Model:
        if self._school_id is not None:
            given = fields.pop("school", None)
            given_id = fields.pop("school_id", getattr(given, "pk", given))
            if given_id is not None and given_id != self._school_id:
                raise SchoolScopeError(
                    f"{self.model.__name__}: create for school {given_id} in a queryset "
                    f"scoped to school {self._school_id}."
                )
            fields["school_id"] = self._school_id
        return super().create(**fields)


class SchoolScopedManager(models.Manager.from_queryset(SchoolScopedQuerySet)):
    """The guarded manager: only `for_school()` opens it."""

    def get_queryset(self) -> SchoolScopedQuerySet:
        raise SchoolScopeError(
            f"{self.model.__name__}.objects needs a school: use "
            f"{self.model.__name__}.objects.for_school(school) (or .unscoped on purpose)."
        )

    def for_school(self, school: School | int | None) -> SchoolScopedQuerySet:
        if school is None:
            raise SchoolScopeError(f"{self.model.__name__}: for_school() got no school.")
        return SchoolScopedQuerySet(self.model, using=self._db).for_school(school)


class SchoolScopedModel(models.Model):
    school = models.ForeignKey("schools.School", on_delete=models.CASCADE, related_name="+")

    # The first manager is Django's default (used for related objects, admin, serializers);
    # `objects` is the guarded entry point for application code.
    unscoped = models.Manager.from_queryset(FeedingQuerySet)()
    objects = SchoolScopedManager()

    class Meta:
        abstract = True
        default_manager_name = "unscoped"
        base_manager_name = "unscoped"

    def same_school(self, other: Any) -> bool:
        return getattr(other, "school_id", None) == self.school_id
