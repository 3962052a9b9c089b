"""Store and AsyncStore are twins: the same public methods, with the same signatures."""

from __future__ import annotations

import inspect

import pytest

import objstore

RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
ITERATORS = {"get_stream", "list"}  # async iterators, not coroutines
SHARED = {"subscribe"}  # no I/O: one plain method, inherited by both twins


def public_methods(cls: type) -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(cls)
        if callable(member) and not name.startswith("_")
    }


def test_the_same_public_methods() -> None:
    sync = public_methods(objstore.Store)
    expected = {RENAMED.get(name, name) for name in sync}
    assert public_methods(objstore.AsyncStore) == expected


@pytest.mark.parametrize("name", sorted(public_methods(objstore.Store)))
def test_the_same_parameters(name: str) -> None:
    sync = inspect.signature(getattr(objstore.Store, name))
    twin = getattr(objstore.AsyncStore, RENAMED.get(name, name))
    assert list(inspect.signature(twin).parameters.values()) == list(sync.parameters.values())
    is_coroutine = inspect.iscoroutinefunction(twin)
    expected = name not in ITERATORS | SHARED
    assert is_coroutine is expected, f"{name}: coroutine, iterator or plain as documented"


def test_the_same_properties() -> None:
    for name in ("capabilities", "closed"):
        assert isinstance(getattr(objstore.AsyncStore, name), property)


def test_the_entry_points_are_twins_too() -> None:
    for name in ("open", "from_config", "from_env"):
        sync = inspect.signature(getattr(objstore, name))
        twin = inspect.signature(getattr(objstore, f"{name}_async"))
        assert twin.parameters == sync.parameters
