"""castoff's sources, read for what breaks on Windows and macOS runners (nothing runs here)."""

from __future__ import annotations

import ast
from pathlib import Path

import castoff

SOURCES = sorted(Path(castoff.__file__).parent.rglob("*.py"))

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
    for source in SOURCES:
        for node in _load_time_imports(ast.parse(source.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert not {str(n).split(".")[0] for n in names} & _POSIX_ONLY, (
                f"{source}:{node.lineno}"
            )


def _calls(tree: ast.AST, method: str) -> list[ast.Call]:
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute | ast.Name)
        and (n.func.attr if isinstance(n.func, ast.Attribute) else n.func.id) == method
    ]


def test_every_text_file_castoff_writes_has_unix_newlines() -> None:
    """On Windows text mode writes CRLF: sidecars and SHA256SUMS would fail their own checks."""
    for source in SOURCES:
        tree = ast.parse(source.read_text(encoding="utf-8"))
        writes = _calls(tree, "write_text") + [
            call
            for name in ("open", "fdopen")
            for call in _calls(tree, name)
            if any(isinstance(a, ast.Constant) and a.value == "w" for a in call.args)
        ]
        for call in writes:
            keywords = {k.arg for k in call.keywords}
            assert "newline" in keywords, f"{source}:{call.lineno}"
