"""What rustc and cargo answered is kept by program file, and asked again when that file changes.

The toolchains here are files with a compiled program's first bytes that a fake runner answers
for: no process runs. `tests/integration/test_probe_answers.py` does the same with the real
rustup and Debian toolchains.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from castoff.build import answers as an
from castoff.build import toolchains
from castoff.build.toolchains import Toolchain, _toolchain
from castoff.runner import Command, Result, Runner

ELF = b"\x7fELF\x02\x01\x01" + bytes(64)


class AnsweringRunner(Runner):
    """A runner whose programs answer from a table; it records what was asked."""

    def __init__(self, answers: dict[tuple[str, ...], str]) -> None:
        super().__init__(base_env={}, echo=lambda _: None)
        self.answers = answers
        self.asked: list[tuple[str, ...]] = []

    def capture(self, command: Command, *, timeout: float | None = 60.0) -> Result:
        """Answer from the table (exit 1 for a question it has no answer to)."""
        del timeout
        self.asked.append(command.argv)
        answer = self.answers.get(command.argv)
        return Result(
            command=command, returncode=0 if answer is not None else 1,
            stdout=f"{answer}\n" if answer is not None else "", stderr="", seconds=0.0,
        )  # fmt: skip


def compiled(path: Path, body: bytes = b"") -> Path:
    """Write a file that starts as an ELF program does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(ELF + body)
    path.chmod(0o755)
    return path


def sysroot(root: Path) -> tuple[Path, Path]:
    """Make a toolchain folder with bin/rustc and bin/cargo; return them."""
    return compiled(root / "bin" / "rustc"), compiled(root / "bin" / "cargo")


def probe_twice(
    answering: dict[tuple[str, ...], str], rustc: Path, cargo: Path, cache: Path | None
) -> list[tuple[Toolchain | None, list[tuple[str, ...]]]]:
    """Probe a toolchain twice with one cache folder; return each probe's finding and questions."""
    probes = []
    for _ in range(2):
        answers = an.Answers(cache)
        runner = AnsweringRunner(answering)
        found = _toolchain(runner, str(rustc), str(cargo), None, answers)
        answers.save()
        probes.append((found, runner.asked))
    return probes


VERSION = "rustc 1.96.0 (abc 2026-01-01)\nhost: x86_64-unknown-linux-gnu\nrelease: 1.96.0"
CARGO = "cargo 1.96.0 (def 2026-01-01)"


def rustup_proxies(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Make rustup and its rustc and cargo proxies (links to it); return the three."""
    rustup = compiled(tmp_path / "cargo-home" / "bin" / "rustup")
    rustc, cargo = rustup.with_name("rustc"), rustup.with_name("cargo")
    rustc.symlink_to("rustup")
    cargo.symlink_to("rustup")
    return rustup, rustc, cargo


def table(rustc: Path, cargo: Path, root: Path) -> dict[tuple[str, ...], str]:
    """Return what a toolchain with this sysroot answers through these paths, and its own."""
    return {
        (str(rustc), "--print", "sysroot"): str(root),
        (str(rustc), "-vV"): VERSION,
        (str(cargo), "-V"): CARGO,
        (str(root / "bin" / "rustc"), "-vV"): VERSION,
        (str(root / "bin" / "cargo"), "-V"): CARGO,
    }


def test_a_compiler_that_is_its_own_sysroots_rustc_is_asked_once(tmp_path: Path) -> None:
    """Debian's /usr/bin/rustc: the second probe asks nothing and finds the same toolchain."""
    root = tmp_path / "usr"
    rustc, cargo = sysroot(root)
    cache = tmp_path / "cache"
    first_runner = AnsweringRunner(table(rustc, cargo, root))
    first_answers = an.Answers(cache)
    first = _toolchain(first_runner, str(rustc), str(cargo), None, first_answers)
    first_answers.save()
    assert len(first_runner.asked) == 3
    again = AnsweringRunner(table(rustc, cargo, root))
    second = _toolchain(again, str(rustc), str(cargo), None, an.Answers(cache))
    assert again.asked == []
    assert first is not None
    assert second == first
    assert (second.version, second.cargo_version, second.sysroot) == (VERSION, CARGO, str(root))


def test_a_rewritten_program_is_asked_again(tmp_path: Path) -> None:
    """An upgrade rewrites rustc: its kept answers no longer match it, and are dropped."""
    root = tmp_path / "usr"
    rustc, cargo = sysroot(root)
    cache = tmp_path / "cache"
    kept = an.Answers(cache)
    _toolchain(AnsweringRunner(table(rustc, cargo, root)), str(rustc), str(cargo), None, kept)
    kept.save()
    compiled(rustc, b"an upgrade")
    newer = {**table(rustc, cargo, root), (str(rustc), "-vV"): VERSION.replace("96", "97")}
    runner = AnsweringRunner(newer)
    answers = an.Answers(cache)
    found = _toolchain(runner, str(rustc), str(cargo), None, answers)
    answers.save()
    assert sorted(runner.asked) == [(str(rustc), "--print", "sysroot"), (str(rustc), "-vV")]
    assert found is not None
    assert "1.97.0" in found.version
    questions = [e["question"] for e in json.loads((cache / an.FILE).read_text())["answers"]]
    assert sorted(questions) == [["--print", "sysroot"], ["-V"], ["-vV"]]


def test_rustups_proxies_are_asked_the_sysroot_every_time(tmp_path: Path) -> None:
    """The proxy rustc picks a toolchain per folder: only that toolchain's answers are kept."""
    rustup, rustc, cargo = rustup_proxies(tmp_path)
    stable = tmp_path / "rustup-home" / "toolchains" / "stable-x86_64-unknown-linux-gnu"
    sysroot(stable)
    cache = tmp_path / "cache"
    first = an.Answers(cache)
    asked = AnsweringRunner(table(rustc, cargo, stable))
    _toolchain(asked, str(rustc), str(cargo), str(rustup), first)
    first.save()
    runner = AnsweringRunner(table(rustc, cargo, stable))
    found = _toolchain(runner, str(rustc), str(cargo), str(rustup), an.Answers(cache))
    assert runner.asked == [(str(rustc), "--print", "sysroot")]
    assert found is not None
    assert (found.version, found.cargo_version, found.rustup) == (
        VERSION, CARGO, "stable-x86_64-unknown-linux-gnu",
    )  # fmt: skip
    # Another folder's rust-toolchain.toml: rustup's answer names another toolchain, asked anew.
    nightly = stable.with_name("nightly-x86_64-unknown-linux-gnu")
    sysroot(nightly)
    other = AnsweringRunner(table(rustc, cargo, nightly))
    found = _toolchain(other, str(rustc), str(cargo), str(rustup), an.Answers(cache))
    assert len(other.asked) == 3
    assert found is not None
    assert found.rustup == "nightly-x86_64-unknown-linux-gnu"
    # Its version is asked of the toolchain's own programs: rustup's choice could change
    # between two runs of its proxy, and the answer is kept as that program's.
    assert sorted(other.asked[1:]) == [
        (str(nightly / "bin" / "cargo"), "-V"),
        (str(nightly / "bin" / "rustc"), "-vV"),
    ]


def test_a_wrapper_script_is_always_asked(tmp_path: Path) -> None:
    """A script may answer by its environment: nothing of it is kept."""
    root = tmp_path / "usr"
    sysroot(root)
    rustc = tmp_path / "wrap" / "rustc"
    rustc.parent.mkdir()
    rustc.write_text(f'#!/bin/sh\nexec {root}/bin/rustc "$@"\n')
    cargo = root / "bin" / "cargo"
    probes = probe_twice(table(rustc, cargo, root), rustc, cargo, tmp_path / "cache")
    assert [len(asked) for _, asked in probes] == [3, 3]


def test_a_kept_sysroot_that_no_longer_holds_the_compiler_is_asked_again(tmp_path: Path) -> None:
    """The answer is checked on use: its bin/rustc must still be the program asked."""
    root = tmp_path / "usr"
    rustc, cargo = sysroot(root)
    cache = tmp_path / "cache"
    program = an.identify(rustc)
    assert program is not None
    elsewhere = tmp_path / "elsewhere"
    sysroot(elsewhere)
    planted = an.Answers(cache)
    planted.put(program, ("--print", "sysroot"), str(elsewhere))
    planted.save()
    runner = AnsweringRunner(table(rustc, cargo, root))
    found = _toolchain(runner, str(rustc), str(cargo), None, an.Answers(cache))
    assert (str(rustc), "--print", "sysroot") in runner.asked
    assert found is not None
    assert found.sysroot == str(root)


def test_a_cargo_from_elsewhere_is_asked(tmp_path: Path) -> None:
    """A cargo that is neither the sysroot's nor rustup's proxy may be any version: asked."""
    root = tmp_path / "usr"
    rustc, _ = sysroot(root)
    cargo = compiled(tmp_path / "other" / "cargo")
    _, (_, asked) = probe_twice(table(rustc, cargo, root), rustc, cargo, tmp_path / "cache")
    assert asked == [(str(cargo), "-V")]


def test_a_failed_answer_is_not_kept(tmp_path: Path) -> None:
    """A question that exits non-zero is asked again next time."""
    root = tmp_path / "usr"
    rustc, cargo = sysroot(root)
    answers_table = table(rustc, cargo, root)
    del answers_table[(str(cargo), "-V")]
    probes = probe_twice(answers_table, rustc, cargo, tmp_path / "cache")
    assert [found for found, _ in probes] == [None, None]
    # rustc's answers were kept; cargo's failure was not.
    assert probes[1][1] == [(str(cargo), "-V")]


def test_only_compiled_programs_are_identified(tmp_path: Path) -> None:
    """ELF, Mach-O and PE headers count; a script, a folder or nothing does not."""
    for head in (b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"MZ\x90\x00"):
        assert an.identify(compiled(tmp_path / head.hex(), head)) is not None
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    assert an.identify(script) is None
    assert an.identify(tmp_path) is None
    assert an.identify(tmp_path / "missing") is None


def _written(cache: Path) -> Path:
    """Keep one answer in cache; return the file."""
    program = an.identify(compiled(cache.parent / "prog"))
    assert program is not None
    answers = an.Answers(cache)
    answers.put(program, ("-V",), "prog 1.0")
    answers.save()
    return cache / an.FILE


def _one(**changed: object) -> bytes:
    """Return an answers file of one entry, as castoff writes it but for the changed fields."""
    entry = {"path": "/p", "device": 1, "inode": 1, "size": 1, "mtime_ns": 1, "ctime_ns": 1}
    entry |= {"question": ["-V"], "answer": "x"}
    return json.dumps({"schema": 1, "answers": [entry | changed]}).encode()


HOSTILE = {
    "not JSON": b"{",
    "not UTF-8": b"\xff\xfe{}",
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "another schema": json.dumps({"schema": 2, "answers": []}).encode(),
    "a true for the schema": json.dumps({"schema": True, "answers": []}).encode(),
    "an extra key": json.dumps({"schema": 1, "answers": [], "x": 1}).encode(),
    "an answer that is a number": _one(answer=5),
    "a relative program": _one(path="p"),
    "a true for a number": _one(device=True),
    "a negative size": _one(size=-1),
    "a question that is no list": _one(question="-V"),
    "an entry with an extra key": _one(extra=1),
    "too many answers": json.dumps({"schema": 1, "answers": [{}] * 300}).encode(),
    "too big": b" " * (5 << 20),
    "empty": b"",
}


@pytest.mark.parametrize("what", sorted(HOSTILE))
def test_a_file_not_as_castoff_writes_it_is_neither_used_nor_replaced(
    tmp_path: Path, what: str
) -> None:
    """Whatever lies at the answers' path: the probe asks, and leaves the file as it was."""
    cache = tmp_path / "cache"
    file = _written(cache)
    file.write_bytes(HOSTILE[what])
    answers = an.Answers(cache)
    program = an.identify(tmp_path / "prog")
    assert program is not None
    assert answers.get(program, ("-V",)) is None
    answers.put(program, ("-V",), "prog 2.0")
    answers.save()
    assert file.read_bytes() == HOSTILE[what]


@pytest.mark.parametrize("nofollow", [True, False])
def test_a_link_or_a_fifo_at_the_answers_path_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nofollow: bool
) -> None:
    """A planted link is neither read through nor replaced (Windows too); a FIFO blocks nothing."""
    if not nofollow:
        monkeypatch.delattr(os, "O_NOFOLLOW")
    cache = tmp_path / "cache"
    elsewhere = _written(tmp_path / "elsewhere")
    cache.mkdir()
    (cache / an.FILE).symlink_to(elsewhere)
    program = an.identify(tmp_path / "prog")
    assert program is not None
    answers = an.Answers(cache)
    assert answers.get(program, ("-V",)) is None
    answers.put(program, ("-V",), "changed")
    answers.save()
    assert (cache / an.FILE).is_symlink()
    assert "prog 1.0" in elsewhere.read_text()
    fifo_cache = tmp_path / "fifo-cache"
    fifo_cache.mkdir()
    os.mkfifo(fifo_cache / an.FILE)
    assert an.Answers(fifo_cache).get(program, ("-V",)) is None


def test_a_cache_folder_that_cannot_be_written_keeps_nothing(tmp_path: Path) -> None:
    """The answers are an optimisation: a file where the cache folder should be is no error."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder\n")
    program = an.identify(compiled(tmp_path / "prog"))
    assert program is not None
    answers = an.Answers(blocked)
    answers.put(program, ("-V",), "prog 1.0")
    answers.save()
    assert blocked.read_text() == "a file, not a folder\n"


def test_without_a_cache_folder_nothing_is_kept(tmp_path: Path) -> None:
    """Answers(None): every probe asks (toolchains.probe without a cache folder)."""
    root = tmp_path / "usr"
    rustc, cargo = sysroot(root)
    probes = probe_twice(table(rustc, cargo, root), rustc, cargo, None)
    assert [len(asked) for _, asked in probes] == [3, 3]


def test_a_planted_sysroot_linking_to_the_compiler_is_not_taken(tmp_path: Path) -> None:
    """A kept sysroot whose bin/rustc is a link to the real one is someone else's folder."""
    root = tmp_path / "usr"
    rustc, cargo = sysroot(root)
    planted = tmp_path / "planted"
    (planted / "bin").mkdir(parents=True)
    (planted / "bin" / "rustc").symlink_to(rustc)
    program = an.identify(rustc)
    assert program is not None
    answers = an.Answers(tmp_path / "cache")
    answers.put(program, ("--print", "sysroot"), str(planted))
    answers.save()
    runner = AnsweringRunner(table(rustc, cargo, root))
    found = _toolchain(runner, str(rustc), str(cargo), None, an.Answers(tmp_path / "cache"))
    assert (str(rustc), "--print", "sysroot") in runner.asked
    assert found is not None
    assert found.sysroot == str(root)


@pytest.mark.parametrize(
    ("question", "kept"), [(("-vV",), "evil\nhost: x\nrelease: 1"), (("-V",), "not cargo")]
)
def test_a_kept_answer_that_does_not_read_as_one_is_asked_again(
    tmp_path: Path, question: tuple[str, ...], kept: str
) -> None:
    """A kept `rustc -vV` starts `rustc ` and names host and release; `cargo -V`, `cargo `."""
    root = tmp_path / "usr"
    rustc, cargo = sysroot(root)
    program = an.identify(rustc if question == ("-vV",) else cargo)
    assert program is not None
    answers = an.Answers(tmp_path / "cache")
    answers.put(program, question, kept)
    answers.save()
    runner = AnsweringRunner(table(rustc, cargo, root))
    found = _toolchain(runner, str(rustc), str(cargo), None, an.Answers(tmp_path / "cache"))
    assert (program.path, *question) in runner.asked
    assert found is not None
    assert (found.version, found.cargo_version) == (VERSION, CARGO)


def test_a_fifo_named_by_the_answers_hangs_nothing(tmp_path: Path) -> None:
    """A FIFO as a kept program, as a sysroot's rustc or on PATH is not opened to wait."""
    # Run on a thread given ten seconds: a hang fails the test instead of stalling the suite.
    done = threading.Thread(target=_probe_beside_fifos, args=(tmp_path,), daemon=True)
    done.start()
    done.join(10)
    assert not done.is_alive(), "the probe waited on a FIFO"


def _probe_beside_fifos(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert an.identify(fifo) is None
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / an.FILE).write_bytes(_one(path=str(fifo)))
    answers = an.Answers(cache)
    program = an.identify(compiled(tmp_path / "prog"))
    assert program is not None
    answers.put(program, ("-V",), "prog 1.0")
    answers.save()  # drops the FIFO's entry (it is no program) without opening it
    root = tmp_path / "usr"
    (root / "bin").mkdir(parents=True)
    os.mkfifo(root / "bin" / "rustc")
    rustc = compiled(tmp_path / "rustc")
    cargo = compiled(tmp_path / "cargo")
    runner = AnsweringRunner(table(rustc, cargo, root))
    assert _toolchain(runner, str(rustc), str(cargo), None, an.Answers(cache)) is not None
    (tmp_path / "fifo-rustc").mkdir()
    os.mkfifo(tmp_path / "fifo-rustc" / "rustc")
    fifo_rustc = tmp_path / "fifo-rustc" / "rustc"
    assert an.identify(fifo_rustc) is None


@pytest.mark.parametrize("text", ["/p\x00q", "/\ud800"])
def test_a_path_no_file_can_have_is_not_read(tmp_path: Path, text: str) -> None:
    """A NUL or an unencodable character in a kept path or answer: the file is not used."""
    cache = tmp_path / "cache"
    cache.mkdir()
    for doc in (_one(path=text), _one(answer=text)):
        (cache / an.FILE).write_bytes(doc)
        answers = an.Answers(cache)
        program = an.identify(compiled(tmp_path / "prog"))
        assert program is not None
        answers.put(program, ("-V",), "prog 1.0")
        answers.save()
        assert (cache / an.FILE).read_bytes() == doc
    assert an.identify(text) is None


def test_a_rustc_told_to_say_another_version_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RUSTC_OVERRIDE_VERSION_STRING changes what rustc says: with it, the probe keeps nothing."""
    monkeypatch.setattr(toolchains, "DEBIAN_RUSTC", tmp_path / "no-debian-rustc")
    root = tmp_path / "toolchain"
    rustc, cargo = sysroot(root)
    env = {"PATH": str(root / "bin")}
    runner = AnsweringRunner(table(rustc, cargo, root))
    for value in ("9.9.9", ""):  # rustc takes an empty one too
        overridden = {**env, "RUSTC_OVERRIDE_VERSION_STRING": value}
        toolchains.Probe(runner, overridden, tmp_path / "kept-not").tools(docker=False)
        assert not (tmp_path / "kept-not").exists()
    toolchains.Probe(runner, env, tmp_path / "kept").tools(docker=False)
    assert (tmp_path / "kept" / an.FILE).is_file()


def test_a_toolchain_that_answers_only_through_rustup_is_asked_through_it(tmp_path: Path) -> None:
    """A linked toolchain whose rustc needs rustup's environment: asked through the proxy."""
    rustup, rustc, cargo = rustup_proxies(tmp_path)
    linked = tmp_path / "rustup-home" / "toolchains" / "linked"
    sysroot(linked)
    answering = table(rustc, cargo, linked)
    del answering[(str(linked / "bin" / "rustc"), "-vV")]  # it cannot find its libraries
    for _ in range(2):
        runner = AnsweringRunner(answering)
        answers = an.Answers(tmp_path / "cache")
        found = _toolchain(runner, str(rustc), str(cargo), str(rustup), answers)
        answers.save()
        assert found is not None
        assert found.version == VERSION
        # Asked of the toolchain's rustc, then through rustup: not kept, so asked each time.
        assert (str(linked / "bin" / "rustc"), "-vV") in runner.asked
        assert (str(rustc), "-vV") in runner.asked


def test_a_long_chain_of_links_is_no_program(tmp_path: Path) -> None:
    """Python 3.11's realpath recurses once per link: a hostile chain ends as no program."""
    target = compiled(tmp_path / "prog")
    link = target
    for i in range(1500):
        nxt = tmp_path / f"link{i}"
        nxt.symlink_to(link)
        link = nxt
    assert an.identify(link) in (None, an.identify(target))
