"""A method's calls recorded in a test while it still does its work."""

from typing import Any


def record_calls(monkeypatch: Any, owner: type, name: str) -> list:
    """Each call of `owner.name` appends its first argument after `self` to the list
    returned; the method still runs."""
    calls: list = []
    original = getattr(owner, name)

    def recording(self: Any, first: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(first)
        return original(self, first, *args, **kwargs)

    monkeypatch.setattr(owner, name, recording)
    return calls
