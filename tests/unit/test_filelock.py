"""castoff's file locks, and castoff's modules loading on Windows (no POSIX-only imports)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import castoff
from castoff.filelock import locked, try_lock

# What a Windows Python lacks.
_POSIX_ONLY = {"fcntl", "pwd", "grp", "termios", "resource", "posix"}


def _load_time_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Return the import statements that run when the module loads (not in functions)."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.ClassDef)):
            todo += [n for n in ast.iter_child_nodes(node) if isinstance(n, ast.stmt)]
    return found


def test_no_castoff_module_imports_a_posix_only_module_when_it_loads() -> None:
    """Castoff runs on Windows runners: fcntl and the like are imported only where used."""
    for source in Path(castoff.__file__).parent.rglob("*.py"):
        for node in _load_time_imports(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert not {str(n).split(".")[0] for n in names} & _POSIX_ONLY, (
                f"{source}:{node.lineno}"
            )


def test_a_held_lock_is_not_taken_twice_and_is_released(tmp_path: Path) -> None:
    """While one holder has the lock another cannot take it; after, it can."""
    path = tmp_path / "x.lock"
    with locked(path):
        fd = os.open(path, os.O_RDWR)
        try:
            assert not try_lock(fd)
        finally:
            os.close(fd)
    fd = os.open(path, os.O_RDWR)
    try:
        assert try_lock(fd)
    finally:
        os.close(fd)
