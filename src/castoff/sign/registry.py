"""Every signing backend castoff knows, by name: the one list (cibuildwheel's ALL_PLATFORM_MODULES).

A backend is one module whose BACKEND satisfies castoff.sign.backend.SigningBackend; listing
it here (or calling register) is all castoff needs to plan, sign, verify, keygen, doctor and
generate workflows with it.
"""

from __future__ import annotations

import importlib
from typing import Any

from castoff.sign.backend import SigningBackend

# Each backend has its own settings and keys types; the registry holds them side by side.
Backend = SigningBackend[Any, Any]
# Each built-in backend's module, loaded when a config names it: a build whose config names
# one or two backends does not pay for the others (gpg's and sigstore's modules are most of it).
_BUILT_IN = {
    "gpg": "castoff.sign.gpg",
    "minisign": "castoff.sign.minisign",
    "ssh": "castoff.sign.ssh",
    "sigstore": "castoff.sign.sigstore",
}
_LOADED: dict[str, Backend] = {}


def _all() -> list[Backend]:
    return [get(name) for name in names()]


def register(backend: Backend) -> None:
    """Add a backend; its name and signature suffix must be new."""
    if backend.name in names():
        raise ValueError(f"a signing backend named {backend.name!r} is registered already")
    if any(b.suffix == backend.suffix for b in _all()):
        raise ValueError(f"another signing backend writes {backend.suffix!r} signatures")
    _LOADED[backend.name] = backend


def unregister(name: str) -> None:
    """Remove a backend added with register (tests)."""
    if name not in _BUILT_IN:
        _LOADED.pop(name, None)


def names() -> tuple[str, ...]:
    """Return the names of every backend, in registry order."""
    # A snapshot: a backend loaded by another thread meanwhile does not disturb it.
    return (*_BUILT_IN, *(n for n in tuple(_LOADED) if n not in _BUILT_IN))


def get(name: str) -> Backend:
    """Return a backend by name (config has checked that it exists)."""
    if name not in _LOADED and name in _BUILT_IN:
        backend: Backend = importlib.import_module(_BUILT_IN[name]).BACKEND
        _LOADED[name] = backend
    return _LOADED[name]
