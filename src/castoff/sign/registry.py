"""Every signing backend castoff knows, by name: the one list (cibuildwheel's ALL_PLATFORM_MODULES).

A backend is one module whose BACKEND satisfies castoff.sign.backend.SigningBackend; listing
it here (or calling register) is all castoff needs to plan, sign, verify, keygen, doctor and
generate workflows with it.
"""

from __future__ import annotations

from typing import Any

from castoff.sign import gpg, minisign, sigstore, ssh
from castoff.sign.backend import SigningBackend

# Each backend has its own settings and keys types; the registry holds them side by side.
Backend = SigningBackend[Any, Any]
_BUILT_IN: tuple[Backend, ...] = (gpg.BACKEND, minisign.BACKEND, ssh.BACKEND, sigstore.BACKEND)
BACKENDS: dict[str, Backend] = {backend.name: backend for backend in _BUILT_IN}


def register(backend: Backend) -> None:
    """Add a backend; its name and signature suffix must be new."""
    if backend.name in BACKENDS:
        raise ValueError(f"a signing backend named {backend.name!r} is registered already")
    if any(b.suffix == backend.suffix for b in BACKENDS.values()):
        raise ValueError(f"another signing backend writes {backend.suffix!r} signatures")
    BACKENDS[backend.name] = backend


def unregister(name: str) -> None:
    """Remove a backend added with register (tests)."""
    BACKENDS.pop(name, None)


def names() -> tuple[str, ...]:
    """Return the names of every backend, in registry order."""
    return tuple(BACKENDS)


def get(name: str) -> Backend:
    """Return a backend by name (config has checked that it exists)."""
    return BACKENDS[name]
