"""The one place that starts processes: finds the tool, logs `+ cmd`, dry-runs, redacts secrets."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from castoff.errors import CastoffError, ToolMissingError

REDACTED = "***"
_CHATTER = re.compile(r"^\s*(Compiling|Checking|Downloaded|Downloading|Fresh|Finished) ")


def usable_cores() -> int:
    """Return the CPUs this process may run on (its affinity, a cpuset's too), at most 16."""
    usable = getattr(os, "sched_getaffinity", None)  # Linux; macOS and Windows have none
    return max(1, min(16, len(usable(0)) if usable else os.cpu_count() or 1))


@dataclass(frozen=True, kw_only=True)
class Command:
    """A process to start: argv, the environment it adds to the runner's, and where it runs."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    install_hint: str | None = None  # how to get argv[0] when it is missing
    stdin_path: Path | None = None  # a file fed to the process's standard input
    # Text for standard input, such as a passphrase: never displayed, never logged.
    input_text: str | None = field(default=None, repr=False)
    # Start without a controlling terminal, so a tool cannot prompt on /dev/tty (ssh-keygen).
    no_terminal: bool = False
    # Prefixes of inherited variables the process must not see (UV_: another index for uv).
    unset: tuple[str, ...] = ()

    def display(self, secrets: Sequence[str] = ()) -> str:
        """Return the command as a shell line (changed environment first), secrets redacted."""
        assignments = [f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items())]
        line = " ".join([*assignments, shlex.join(self.argv)])
        if self.stdin_path is not None:
            line += f" < {shlex.quote(str(self.stdin_path))}"
        elif self.input_text is not None:
            line += " <<< ***"
        return redact(line, secrets)


@dataclass(frozen=True, kw_only=True)
class Result:
    """What a finished process did."""

    command: Command
    returncode: int
    stdout: str
    stderr: str
    seconds: float


# user:password@ in a URL: castoff refuses such URLs, and whatever a tool prints hides them too.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]*@")


def redact(text: str, secrets: Sequence[str]) -> str:
    """Replace every secret in text; secrets are never shown, whatever the path to output."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)


class CommandFailedError(CastoffError):
    """A command exited non-zero; callers wrap it into the error of their step."""

    def __init__(self, result: Result, shown: str) -> None:
        # Progress chatter ("Compiling foo") hides the lines that say what went wrong.
        lines = [line for line in result.stderr.strip().splitlines() if not _CHATTER.match(line)]
        tail = "\n".join(lines[-12:])
        super().__init__(f"`{shown}` exited with {result.returncode}.\n{tail}".rstrip())
        self.result = result


class Runner:
    """Starts every external command castoff runs, with one logging and dry-run policy."""

    def __init__(
        self,
        *,
        base_env: Mapping[str, str],
        echo: Callable[[str], None],
        dry_run: bool = False,
        secrets: Sequence[str] = (),
    ) -> None:
        self.base_env = dict(base_env)
        self.echo = echo
        self.dry_run = dry_run
        self.secrets = tuple(secrets)

    def with_secrets(self, secrets: Sequence[str]) -> Runner:
        """Return a runner like this one that also redacts these secrets."""
        return Runner(
            base_env=self.base_env,
            echo=self.echo,
            dry_run=self.dry_run,
            secrets=(*self.secrets, *secrets),
        )

    def dry(self) -> Runner:
        """Return a runner like this one that only shows its commands."""
        return Runner(base_env=self.base_env, echo=self.echo, dry_run=True, secrets=self.secrets)

    def environment(self, command: Command) -> dict[str, str]:
        """Return the full environment a command runs with."""
        inherited = {
            k: v for k, v in self.base_env.items() if not k.startswith(command.unset or ("\0",))
        }
        return {**inherited, **command.env}

    def which(self, command: Command) -> str:
        """Resolve argv[0] on the command's PATH, or explain how to install it."""
        env = self.environment(command)
        found = shutil.which(command.argv[0], path=env.get("PATH", os.defpath))
        if found is None:
            raise ToolMissingError(
                f"'{command.argv[0]}' is not installed (not found on PATH).",
                hint=f"Install it: {command.install_hint}" if command.install_hint else None,
            )
        return found

    def start(self, command: Command, *, log_file: Path) -> subprocess.Popen[bytes]:
        """Start a long-running service (a local index) with its output in a log file."""
        shown = command.display(self.secrets)
        self.echo(f"+ {shown} &")
        executable = self.which(command)
        with log_file.open("ab") as log:
            return subprocess.Popen(
                [executable, *command.argv[1:]],
                env=self.environment(command),
                cwd=command.cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def capture(self, command: Command, *, timeout: float | None = 60.0) -> Result:
        """Run a quick query (a version, a lookup) without logging it; never raises on failure."""
        return self.run(command, check=False, timeout=timeout, log=lambda _: None)

    def run(
        self,
        command: Command,
        *,
        check: bool = True,
        timeout: float | None = None,
        log: Callable[[str], None] | None = None,
    ) -> Result:
        """Run a command to completion, capturing its output; in dry-run only echo it."""
        shown = command.display(self.secrets)
        (log or self.echo)(f"+ {shown}")
        if self.dry_run:
            return Result(command=command, returncode=0, stdout="", stderr="", seconds=0.0)
        executable = self.which(command)
        started = time.monotonic()
        try:
            with (
                command.stdin_path.open("rb")
                if command.stdin_path is not None
                else contextlib.nullcontext(subprocess.DEVNULL)
            ) as stdin:
                completed = subprocess.run(
                    [executable, *command.argv[1:]],
                    env=self.environment(command),
                    cwd=command.cwd,
                    # A tool that wants a passphrase gets it here or gets end-of-file, never a
                    # prompt on the terminal that hangs an unattended release.
                    stdin=None if command.input_text is not None else stdin,
                    input=command.input_text,
                    start_new_session=command.no_terminal,
                    capture_output=True,
                    text=True,
                    # Tools write UTF-8 (maturin's emoji); Windows' locale codec would not read it.
                    encoding="utf-8",
                    errors="replace",
                    timeout=timeout,
                    check=False,
                )
        except subprocess.TimeoutExpired as exc:
            raise CastoffError(f"`{shown}` did not finish within {timeout} seconds.") from exc
        except OSError as exc:
            # The file is there but the system will not run it (a foreign CPU without an
            # emulator, a binary a virus scanner holds): a failed command, not a crash.
            completed = subprocess.CompletedProcess(
                command.argv, 126, "", f"cannot run {executable}: {exc.strerror or exc}"
            )
        result = Result(
            command=command,
            returncode=completed.returncode,
            stdout=redact(completed.stdout, self.secrets),
            stderr=redact(completed.stderr, self.secrets),
            seconds=time.monotonic() - started,
        )
        if log is not None:
            for stream in (result.stdout, result.stderr):
                if stream:
                    log(stream.rstrip("\n"))
        if check and result.returncode != 0:
            raise CommandFailedError(result, shown)
        return result
