"""Every action recorded anywhere has a label its app declared for the school office."""

import ast
import importlib
from pathlib import Path

import kreide
from kreide.core import audit

ROOT = Path(kreide.__file__).parent


def _recorded_actions() -> dict[str, str]:
    """{action: module} for every audit.record / record_many call with a literal action."""
    found = {}
    for path in ROOT.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("record", "record_many")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "audit"
            ):
                for arg in node.args[2:3]:
                    values = [arg] if not isinstance(arg, ast.IfExp) else [arg.body, arg.orelse]
                    for value in values:
                        if isinstance(value, ast.Constant):
                            found[value.value] = module
                            importlib.import_module(module)
    return found


def test_every_recorded_action_is_declared_with_a_label():
    recorded = _recorded_actions()
    assert "files.link_created" in recorded and "group.created" in recorded
    missing = {
        action: module for action, module in recorded.items() if action not in audit.declared()
    }
    assert missing == {}
