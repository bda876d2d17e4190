"""Every model that holds school data is in the export, or excluded with a reason."""

import contextlib

import pytest

from kreide.news.models import Receipt
from kreide.transfer import registry
from kreide.transfer.exporter import export_school
from kreide.transfer.serialize import ExportError


@contextlib.contextmanager
def _unregistered(model):
    saved = dict(registry._registrations)
    del registry._registrations[model]
    registry.ordered_specs.cache_clear()
    try:
        yield
    finally:
        registry._registrations.clear()
        registry._registrations.update(saved)  # same order: the part order depends on it
        registry.ordered_specs.cache_clear()


def test_every_model_with_school_data_is_exported_or_declared_not_school_data():
    problems = registry.uncovered_models()
    assert not problems, "\n" + "\n".join(problems)


def test_a_model_left_out_is_named_with_the_file_to_register_it_in():
    before = set(registry.uncovered_models())
    with _unregistered(Receipt):
        problems = set(registry.uncovered_models()) - before
    assert len(problems) == 1
    problem = problems.pop()
    assert "news.Receipt holds school data" in problem
    assert "kreide/news/exports.py" in problem
    assert "registry.register(Receipt)" in problem


def test_excluded_models_say_why():
    for model, reason in registry.excluded().items():
        assert len(reason) > 20, model


def test_a_broken_exports_module_refuses_exports_instead_of_losing_its_data(monkeypatch):
    monkeypatch.setitem(registry._broken, "kreide.tasks.exports", "ImportError: no Task")
    registry.ordered_specs.cache_clear()
    try:
        with pytest.raises(registry.RegistryError, match="kreide.tasks.exports failed to load"):
            registry.ordered_specs()
    finally:
        monkeypatch.undo()
        registry.ordered_specs.cache_clear()
    assert registry.ordered_specs()


def test_export_refuses_while_a_model_with_school_data_is_not_covered(world, tmp_path):
    with (
        _unregistered(Receipt),
        pytest.raises(ExportError, match="news.Receipt holds school data"),
    ):
        export_school(world.school.slug, tmp_path / "nord.tar")
    assert list(tmp_path.iterdir()) == []
