"""What a school export contains: every module registers its models in its `exports.py`.

    from kreide.transfer import registry
    registry.register(Task)                      # rows of one school, FKs remapped
    registry.register(Submission)                # FKs to storage.Blob travel as files
    registry.register(Node, keys={"path": registry.Keys("files.node", enclosed=True)})
    registry.register(VideoLesson, omit={"server": "the target has its own media servers"})
    registry.not_school_data(UploadSession, "half-finished uploads are ephemeral")
    registry.leave_behind(AuditEntry, Q(action__startswith="transfer."), "the move itself")

The registry derives everything else from the models: how a row reaches its school (the
`school` field, or a chain of foreign keys to registered models), which fields point at
blobs, which auto-created many-to-many tables come along, and the order in which the
parts are written and read back (foreign-key dependencies first). `uncovered_models()`
lists models that hold school data but are in no export; a test and a system check use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models


class RegistryError(ImproperlyConfigured):
    """An exports.py registered something the export cannot carry faithfully."""


@dataclass(frozen=True)
class Keys:
    """A text field that lists primary keys of one part: "/1/5/9/" (a tree path, enclosed
    in separators) or "12-57" (a pair, kept in ascending order)."""

    kind: str
    separator: str = "/"
    enclosed: bool = False
    ascending: bool = False

    def parse(self, value: str) -> list[int]:
        return [int(key) for key in value.strip(self.separator).split(self.separator) if key]

    def format(self, keys: list) -> str:
        keys = sorted(keys) if self.ascending else keys
        text = self.separator.join(str(key) for key in keys)
        return f"{self.separator}{text}{self.separator}" if self.enclosed else text


@dataclass
class _Registration:
    model: type[models.Model]
    object_refs: tuple[tuple[str, str], ...] = ()
    unique_across_schools: tuple[str, ...] = ()
    keys: dict[str, Keys] = field(default_factory=dict)
    watermarks: dict[str, str] = field(default_factory=dict)
    omit: dict[str, str] = field(default_factory=dict)


@dataclass
class ExportSpec:
    """One part of the archive: the rows of one model that belong to the school."""

    model: type[models.Model]
    kind: str  # "app_label.model_name", also the part's file name
    school_path: str  # lookup from the model to the school's primary key
    fields: list[models.Field]  # exported columns, in model order
    # Foreign keys to other registered models: field name -> kind of the target part.
    references: dict[str, str] = field(default_factory=dict)
    blob_fields: tuple[str, ...] = ()  # FKs to storage.Blob, carried as sha256
    # (type field, id field): a model label plus a primary key, e.g. AuditEntry's target.
    object_refs: tuple[tuple[str, str], ...] = ()
    unique_across_schools: tuple[str, ...] = ()
    keys: dict[str, Keys] = field(default_factory=dict)  # text fields listing keys
    watermarks: dict[str, str] = field(default_factory=dict)  # "up to this key" -> kind
    keep_pk: bool = False  # pk is not an auto field (UUID, or a one-to-one to the school)
    left_behind: models.Q | None = None  # rows of the school that stay in this deployment


_registrations: dict[type[models.Model], _Registration] = {}
_excluded: dict[type[models.Model], str] = {}
_left_behind: dict[type[models.Model], list[tuple[models.Q, str]]] = {}
_broken: dict[str, str] = {}  # exports modules that failed to load -> error


def register(
    model: type[models.Model],
    *,
    object_refs: Iterable[tuple[str, str]] = (),
    unique_across_schools: Iterable[str] = (),
    keys: dict[str, Keys] | None = None,
    watermarks: dict[str, str] | None = None,
    omit: dict[str, str] | None = None,
) -> None:
    """Export `model`'s rows of the school. Auto-created M2M tables to registered models
    come along; FKs to `storage.Blob` are carried as files without being named.

    `object_refs`: (type field, id field) pairs naming any row by model label and key.
    `unique_across_schools`: fields unique in the whole deployment (checked on import).
    `keys`: text fields listing keys of a part ("/1/5/9/", "12-57"), rewritten on import.
    `watermarks`: integer fields meaning "every row of that part up to this key" (a
    last-read message id): rewritten so the same rows stay below the mark.
    `omit`: field -> why it stays behind (deployment-specific); the target's default applies.
    """
    for name in omit or {}:
        f = model._meta.get_field(name)
        if not (f.null or f.has_default() or f.empty_strings_allowed):
            raise RegistryError(f"{model._meta.label}.{name} cannot be omitted: it has no default.")
    _registrations[model] = _Registration(
        model,
        tuple(object_refs),
        tuple(unique_across_schools),
        dict(keys or {}),
        dict(watermarks or {}),
        dict(omit or {}),
    )
    ordered_specs.cache_clear()


def not_school_data(model: type[models.Model], reason: str) -> None:
    """Declare that `model` is deliberately not exported, and why."""
    if not reason.strip():
        raise RegistryError(f"not_school_data({model._meta.label}) needs a reason.")
    _excluded[model] = reason


def excluded() -> dict[type[models.Model], str]:
    return dict(_excluded)


def leave_behind(model: type[models.Model], rows: models.Q, reason: str) -> None:
    """Declare that these rows of an exported model stay behind, and why: they describe
    this deployment's dealings with the school, not the school (kreide/transfer/history.py).
    The export, the import's read-back and the file list all skip them alike."""
    if not reason.strip():
        raise RegistryError(f"leave_behind({model._meta.label}) needs a reason.")
    _left_behind.setdefault(model, []).append((rows, reason))
    ordered_specs.cache_clear()


def left_behind() -> dict[type[models.Model], list[str]]:
    return {model: [reason for _, reason in rules] for model, rules in _left_behind.items()}


def autodiscover() -> None:
    """Import every installed app's `exports` module (called from TransferConfig.ready).

    A broken exports.py must not stop the whole platform from starting: its error is kept,
    reported by `kreide check` and the coverage test, and refuses every export (an export
    without that module's data would silently lose it)."""
    for config in apps.get_app_configs():
        module = f"{config.name}.exports"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                _broken[module] = f"{type(error).__name__}: {error}"
        except Exception as error:  # whatever went wrong in that module
            _broken[module] = f"{type(error).__name__}: {error}"


def _check_discovery() -> None:
    if _broken:
        raise RegistryError(
            "Exports cannot be complete: "
            + "; ".join(f"{module} failed to load ({error})" for module, error in _broken.items())
        )


def _school_model() -> type[models.Model]:
    return apps.get_model("schools", "School")


def _blob_model() -> type[models.Model]:
    return apps.get_model("storage", "Blob")


def kind_of(model: type[models.Model]) -> str:
    return model._meta.label_lower


def _forward_relations(model: type[models.Model]) -> list[models.ForeignKey]:
    return [
        f for f in model._meta.concrete_fields if f.is_relation and (f.many_to_one or f.one_to_one)
    ]


def _auto_throughs(registered: dict[type[models.Model], _Registration]) -> list[type]:
    """Auto-created M2M tables whose both ends are exported (User.teaching_subjects)."""
    throughs = []
    for model in registered:
        for m2m in model._meta.local_many_to_many:
            through = m2m.remote_field.through
            if through._meta.auto_created and m2m.related_model in registered:
                throughs.append(through)
    return throughs


def _school_path(model: type[models.Model], paths: dict[type, str]) -> str | None:
    """The lookup from `model` to its school: itself, its `school` field, or an FK to an
    exported model whose own path is known."""
    if model is _school_model():
        return "pk"
    for relation in _forward_relations(model):
        if relation.name == "school" and relation.related_model is _school_model():
            return "school"
    for relation in _forward_relations(model):
        target = relation.related_model
        if target is not model and target in paths:
            return f"{relation.name}__{paths[target]}"
    return None


def _build_spec(
    model: type[models.Model], registration: _Registration, school_path: str, exported: set[type]
) -> ExportSpec:
    label = model._meta.label
    if model._meta.parents:
        raise RegistryError(f"{label}: multi-table inheritance is not supported by the export.")
    pk = model._meta.pk
    keep_pk = not isinstance(pk, models.AutoField)
    spec = ExportSpec(
        model=model,
        kind=kind_of(model),
        school_path=school_path,
        fields=[
            f
            for f in model._meta.concrete_fields
            if not getattr(f, "generated", False)
            and (keep_pk or f is not pk)
            and f.name not in registration.omit
        ],
        object_refs=registration.object_refs,
        unique_across_schools=registration.unique_across_schools,
        keys=registration.keys,
        watermarks=registration.watermarks,
        keep_pk=keep_pk,
    )
    for rows, _ in _left_behind.get(model, ()):
        spec.left_behind = rows if spec.left_behind is None else spec.left_behind | rows
    blob_fields = []
    for f in spec.fields:
        if isinstance(f, models.FileField):
            raise RegistryError(
                f"{label}.{f.name} is a FileField: store content with kreide.storage.blobstore "
                "and point at storage.Blob instead, so exports (and deduplication) see it."
            )
        if not f.is_relation:
            continue
        target = f.related_model
        if f.remote_field.field_name != target._meta.pk.name and target is not _blob_model():
            raise RegistryError(
                f"{label}.{f.name}: foreign keys to non-primary keys are "
                "not supported by the export."
            )
        if target is _blob_model():
            blob_fields.append(f.name)
        elif target in exported:
            spec.references[f.name] = kind_of(target)
        else:
            raise RegistryError(
                f"{label}.{f.name} points at {target._meta.label}, which is not exported: "
                f"register {target._meta.label} too, or leave the field behind with "
                f"register({model.__name__}, omit={{{f.name!r}: reason}})."
            )
    spec.blob_fields = tuple(blob_fields)
    return spec


def _dependency_order(specs: list[ExportSpec]) -> list[ExportSpec]:
    """Parts whose rows are referenced come first, for a readable archive. The importer
    does not depend on it (it knows every row's new key before inserting, and foreign keys
    are checked at commit), so a cycle is simply cut at the first part in it."""
    by_kind = {spec.kind: spec for spec in specs}
    remaining = [spec.kind for spec in specs]
    pending = {
        spec.kind: {t for n, t in spec.references.items() if t != spec.kind} for spec in specs
    }
    ordered: list[ExportSpec] = []
    while remaining:
        ready = [kind for kind in remaining if not pending[kind] & set(remaining)]
        for kind in ready or remaining[:1]:
            ordered.append(by_kind[kind])
            remaining.remove(kind)
    return ordered


@cache
def ordered_specs() -> tuple[ExportSpec, ...]:
    """All parts of an export, in the order they are written and imported."""
    _check_discovery()
    school = _school_model()
    registered = dict(_registrations)
    if school not in registered:
        raise RegistryError("schools.School must be registered (kreide/schools/exports.py).")
    for through in _auto_throughs(registered):
        registered.setdefault(through, _Registration(through))
    paths: dict[type, str] = {}
    unresolved = list(registered)
    while unresolved:
        progressed = False
        for model in list(unresolved):
            path = _school_path(model, paths)
            if path is not None:
                paths[model] = path
                unresolved.remove(model)
                progressed = True
        if not progressed:
            names = ", ".join(m._meta.label for m in unresolved)
            raise RegistryError(
                f"Cannot tell which school these exported models belong to: {names}. Give "
                "them a `school` field or a foreign key to an exported model."
            )
    exported = set(registered)
    specs = [_build_spec(m, registered[m], paths[m], exported) for m in registered]
    specs.sort(key=lambda spec: spec.model is not school)  # the school row is local id 1
    return tuple(_dependency_order(specs))


def spec_for(kind: str) -> ExportSpec | None:
    return next((spec for spec in ordered_specs() if spec.kind == kind), None)


def _school_data_models() -> dict[type[models.Model], str]:
    """Every model with a path to schools.School, with that path as explanation."""
    from kreide.core.scoping import SchoolScopedModel

    school, user = _school_model(), apps.get_model("accounts", "User")
    all_models = apps.get_models(include_auto_created=True)
    found: dict[type[models.Model], str] = {school: "is the school"}
    for model in all_models:
        if issubclass(model, SchoolScopedModel):
            found[model] = "is a SchoolScopedModel"
    found[user] = "is a user of a school"
    changed = True
    while changed:
        changed = False
        for model in all_models:
            if model in found:
                continue
            for relation in _forward_relations(model):
                if relation.related_model in found:
                    found[model] = (
                        f"{model.__name__}.{relation.name} → {relation.related_model._meta.label}"
                    )
                    changed = True
                    break
    return found


def uncovered_models() -> list[str]:
    """One message per model that holds school data but is in no export and not excluded."""
    exported = {spec.model for spec in ordered_specs()}
    problems = []
    for model, why in _school_data_models().items():
        if model in exported or model in _excluded:
            continue
        owner = model._meta.auto_created or model
        app = apps.get_app_config(owner._meta.app_label)
        where = f"{app.name.replace('.', '/')}/exports.py"
        if model._meta.auto_created:
            m2m = next(
                f.name for f in owner._meta.local_many_to_many if f.remote_field.through is model
            )
            hint = (
                f"register both {owner.__name__} and the model {owner.__name__}.{m2m} "
                f"points at, or declare registry.not_school_data({owner.__name__}.{m2m}"
                ".through, reason=...)"
            )
        else:
            hint = (
                f"add registry.register({model.__name__}) (in dependency order), or "
                f"registry.not_school_data({model.__name__}, reason=...)"
            )
        problems.append(
            f"{model._meta.label} holds school data ({why}) but is in no export: in {where}, "
            f"{hint}."
        )
    return sorted(problems)
