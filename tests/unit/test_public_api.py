"""The public surface: names, ``__all__``, the error tree."""

from __future__ import annotations

import pickle
import re

import pytest

import objstore
import objstore.backend
import objstore.django
import objstore.errors
import objstore.fsspec
import objstore.layers
import objstore.server
import objstore.testing

SPEC_NAMES = {
    "open", "Store", "ObjectInfo", "CommonPrefix", "Capabilities", "ObjectReader",
    "ObjstoreError", "NotFoundError", "PreconditionFailedError", "InvalidKeyError",
    "KeyConflictError", "PermissionDeniedError", "UnavailableError", "CircuitOpenError",
    "UnsupportedOperationError", "StoreClosedError", "ConfigError", "__version__",
}


PUBLIC_MODULES = [
    objstore, objstore.errors, objstore.backend, objstore.testing, objstore.layers,
    objstore.server, objstore.fsspec, objstore.django,
]  # fmt: skip


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_all_is_sorted_and_importable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(module, name), name


def test_spec_names_are_exported() -> None:
    assert set(objstore.__all__) >= SPEC_NAMES


def test_the_namespace_holds_only_public_names_and_modules() -> None:
    import types

    extra = {
        name
        for name in dir(objstore)
        if not name.startswith("_")
        and name not in objstore.__all__
        and not isinstance(getattr(objstore, name), types.ModuleType)
    }
    assert extra == set()


@pytest.mark.parametrize("name", [n for n in objstore.__all__ if n != "__version__"])
def test_reexported_names_show_as_objstore(name: str) -> None:
    value = getattr(objstore, name)
    assert value.__module__ == "objstore"
    if isinstance(value, type):
        assert repr(value) == f"<class 'objstore.{name}'>"


def test_version_is_a_version_string() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", objstore.__version__)


PARENTS = {
    objstore.NotFoundError: FileNotFoundError,
    objstore.InvalidKeyError: ValueError,
    objstore.PermissionDeniedError: PermissionError,
    objstore.UnavailableError: ConnectionError,
    objstore.CircuitOpenError: objstore.UnavailableError,
    objstore.UnsupportedOperationError: NotImplementedError,
    objstore.ConfigError: ValueError,
}


@pytest.mark.parametrize("error", [getattr(objstore, n) for n in objstore.errors.__all__])
def test_every_error_is_an_objstore_error(error: type[Exception]) -> None:
    assert issubclass(error, objstore.ObjstoreError)
    if error in PARENTS:
        assert issubclass(error, PARENTS[error])


@pytest.mark.parametrize("error", [getattr(objstore, n) for n in objstore.errors.__all__])
def test_errors_keep_key_and_backend_through_pickle(error: type[objstore.ObjstoreError]) -> None:
    original = error("it broke", key="a/b", backend="file")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is error
    assert (str(copy), copy.key, copy.backend) == ("it broke", "a/b", "file")
    assert repr(copy) == repr(original)
    assert "a/b" in repr(original) and "file" in repr(original)


def test_not_found_is_caught_as_file_not_found() -> None:
    with pytest.raises(FileNotFoundError):
        raise objstore.NotFoundError("gone", key="k")
