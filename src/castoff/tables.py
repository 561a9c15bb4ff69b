"""TOML tables read with their key paths: every complaint names the file and the key."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn, cast

from castoff.errors import ConfigError

MAX_TOML_BYTES = 4 << 20


class Table:
    """A TOML table with its key path, so every error can say exactly where it is."""

    def __init__(self, data: Mapping[str, object], path: str, file: Path) -> None:
        self.data = data
        self.path = path
        self.file = file

    def key(self, key: str) -> str:
        """Return the key path of a key of this table."""
        return f"{self.path}.{key}"

    def fail(self, key: str | None, problem: str, fix: str | None = None) -> NoReturn:
        """Raise a ConfigError naming the file and the key (or this table)."""
        where = self.key(key) if key else self.path
        raise ConfigError(f"{self.file}: {where}: {problem}", hint=fix)

    def check_keys(self, known: Sequence[str]) -> None:
        """Refuse keys this table does not have, with a "did you mean"."""
        for key in self.data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                fix = (
                    f"Did you mean '{close[0]}'?"
                    if close
                    else f"Known keys: {', '.join(sorted(known))}."
                )
                self.fail(key, f"unknown key '{key}'.", fix + " See docs/config.md.")

    def _typed(self, key: str, kind: type, kind_name: str) -> object | None:
        value = self.data.get(key)
        if value is None:
            return None
        # bool is an int subclass in Python, but not in TOML.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.fail(key, f"expected {kind_name}, got {show(value)}.")
        return value

    def string(self, key: str) -> str | None:
        """Return a non-empty string without control characters, or None when absent."""
        value = cast("str | None", self._typed(key, str, "a string"))
        if value is not None and not value.strip():
            self.fail(key, "must not be empty.")
        if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
            # A line break or tab in a name, URL or path is never meant, and would travel
            # into commands, file names and generated workflows.
            # The value is not repeated: it may be a URL with a token in it.
            self.fail(key, "holds a control character (a line break, a tab).")
        return value

    def boolean(self, key: str) -> bool | None:
        """Return true or false, or None when absent."""
        return cast("bool | None", self._typed(key, bool, "true or false"))

    def integer(self, key: str) -> int | None:
        """Return an integer (not a boolean), or None when absent."""
        return cast("int | None", self._typed(key, int, "an integer"))

    def strings(self, key: str) -> tuple[str, ...] | None:
        """Return a list of non-empty strings, or None when absent."""
        value = self._typed(key, list, "a list of strings")
        if value is None:
            return None
        items = cast("list[object]", value)
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item:
                self.fail(f"{key}[{i}]", f"expected a non-empty string, got {show(item)}.")
        return tuple(cast("list[str]", items))

    def table(self, key: str) -> Table:
        """Return a sub-table (empty when absent)."""
        value = self._typed(key, dict, "a table")
        return Table(cast("dict[str, object]", value or {}), self.key(key), self.file)

    def tables(self, key: str) -> list[Table]:
        """Return an array of tables (empty when absent)."""
        value = self._typed(key, list, "an array of tables ([[...]])")
        result = []
        for i, item in enumerate(cast("list[object]", value or [])):
            if not isinstance(item, dict):
                self.fail(f"{key}[{i}]", f"expected a table, got {show(item)}.")
            result.append(
                Table(cast("dict[str, object]", item), f"{self.key(key)}[{i}]", self.file)
            )
        return result

    def choice(self, key: str, choices: Sequence[str], default: str) -> str:
        """Return one of choices, or the default when absent."""
        value = self.string(key)
        if value is None:
            return default
        if value not in choices:
            self.fail(
                key, f"'{value}' is not one of {', '.join(choices)}.", did_you_mean(value, choices)
            )
        return value


def show(value: object) -> str:
    """Return a value with its TOML type, for messages."""
    kind = {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }
    return f"{kind.get(type(value), type(value).__name__)} {value!r}"


def did_you_mean(value: str, choices: Sequence[str]) -> str | None:
    """Return a "Did you mean ...?" for the closest choice, if any is close."""
    # A shared prefix ('zigbuild' for 'zig') says more about intent than edit distance does.
    prefixed = [c for c in choices if value.startswith(c) or c.startswith(value)]
    close = sorted(prefixed, key=len, reverse=True) or difflib.get_close_matches(
        value, choices, n=1, cutoff=0.5
    )
    return f"Did you mean '{close[0]}'?" if close else None


def read_toml(path: Path, *, what: str = "the project's pyproject.toml") -> dict[str, object]:
    """Read a TOML file (UTF-8, as TOML requires); any failure is a ConfigError naming it."""
    hint = "Pass --config PATH to the project's pyproject.toml, or run castoff where it is."
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_TOML_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file.", hint=hint) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot be read as {what} ({reason}).", hint=hint) from None
    if len(raw) > MAX_TOML_BYTES:
        raise ConfigError(f"{path}: over {MAX_TOML_BYTES >> 20} MB; not {what}.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}), and TOML files must be UTF-8.",
            hint="Save the file as UTF-8.",
        ) from None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).", hint="Fix the syntax.") from None


class SettingsTable(Table):
    """A table of settings that name files and environment variables (signing backends)."""

    def __init__(self, table: Table, root: Path) -> None:
        super().__init__(table.data, table.path, table.file)
        self.root = root

    def env_name(self, key: str) -> str | None:
        """Return the name of an environment variable, or None when absent."""
        name = self.string(key)
        if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            self.fail(key, f"'{name}' is not an environment variable name.")
        return name

    def file_path(self, key: str) -> Path | None:
        """Return a path relative to pyproject.toml, or None when absent."""
        text = self.string(key)
        return None if text is None else self.root / text

    def required_path(self, key: str) -> Path:
        """Return a path relative to pyproject.toml that must be given."""
        path = self.file_path(key)
        if path is None:
            self.fail(key, "is missing.", "Give the path of the file, relative to pyproject.toml.")
        return path

    def required_string(self, key: str, fix: str) -> str:
        """Return a string that must be given."""
        value = self.string(key)
        if value is None:
            self.fail(key, "is missing.", fix)
        return value

    def secret_source(self, file_key: str, env_key: str) -> tuple[Path | None, str | None]:
        """Return where a secret comes from: exactly one of a file and an environment variable."""
        path, env = self.file_path(file_key), self.env_name(env_key)
        if (path is None) == (env is None):
            self.fail(None, f"needs exactly one of {file_key} (a file) and {env_key}.")
        return path, env
