"""The probe keeps what this machine's real rustc and cargo answered, and finds the same tools.

rustup's stable (its proxies on PATH) and Debian's rustc-web, as installed here: the second
probe asks rustup only which toolchain it picks, and asks Debian's programs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from castoff.build import answers
from castoff.build.toolchains import probe
from castoff.runner import Command, Result, Runner

_VERSION_QUESTIONS = (("-vV",), ("-V",), ("--print", "sysroot"))


class RecordingRunner(Runner):
    """The real runner, recording each question it is asked."""

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(base_env=env, echo=lambda _: None)
        self.asked: list[tuple[str, ...]] = []

    def capture(self, command: Command, *, timeout: float | None = 60.0) -> Result:
        """Record the question, then ask it."""
        self.asked.append(command.argv)
        return super().capture(command, timeout=timeout)


def _rust_questions(runner: RecordingRunner) -> list[tuple[str, ...]]:
    return sorted(a for a in runner.asked if a[1:] in _VERSION_QUESTIONS)


def test_a_second_probe_asks_rustup_which_toolchain_and_nothing_else(tmp_path: Path) -> None:
    """Same tools as a probe that keeps nothing; only rustup's choice is asked again."""
    env = dict(os.environ)
    unkept = probe(Runner(base_env=env, echo=lambda _: None), env, docker=False)
    first, second = RecordingRunner(env), RecordingRunner(env)
    tools = probe(first, env, docker=False, cache_dir=tmp_path)
    again = probe(second, env, docker=False, cache_dir=tmp_path)
    assert tools == unkept
    assert again == unkept
    assert unkept.default is not None
    assert unkept.build_std is not None  # Debian's rustc-web, which ci/install-system.sh installs
    assert (tmp_path / answers.FILE).is_file()
    # rustc, --print sysroot, -vV and cargo -V for each toolchain, the first time.
    assert len(_rust_questions(first)) == 6
    proxied = unkept.rustup is not None and Path(unkept.default.rustc).samefile(unkept.rustup)
    expected = [(unkept.default.rustc, "--print", "sysroot")] if proxied else []
    assert _rust_questions(second) == expected
