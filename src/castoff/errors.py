"""The one exception hierarchy; only the CLI turns these into output and exit codes."""

from __future__ import annotations

from typing import ClassVar


class CastoffError(Exception):
    """A failure the user can fix: a message that names what is wrong and a hint that says how."""

    exit_code: ClassVar[int] = 1

    def __init__(
        self, message: str, *, hint: str | None = None, details: dict[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        # With --json: merged into the one document the command prints (every target's outcome).
        self.details = details or {}

    def paragraph(self) -> str:
        """Return the one-paragraph text the CLI prints."""
        return f"{self.message} {self.hint}" if self.hint else self.message


class UsageError(CastoffError):
    """The command line itself is wrong."""

    exit_code = 2


class ConfigError(CastoffError):
    """`[tool.castoff]` or the files it points at are invalid; the message names the key path."""

    exit_code = 3


class PlanError(CastoffError):
    """A plan or manifest file cannot be read: not JSON, another schema version, not castoff's."""

    exit_code = 4


class ToolMissingError(CastoffError):
    """An external tool castoff needs is not installed; the hint is the command that installs it."""

    exit_code = 5


class BuildError(CastoffError):
    """A build, archive or smoke-run failed; the message names the target and its log."""

    exit_code = 6


class AuditError(CastoffError):
    """A binary breaks what its wheel's tags or its archive's name promise."""

    exit_code = 7


class AssembleError(CastoffError):
    """Build folders do not add up to the planned release; names the folder and artifact."""

    exit_code = 8


class ContractError(CastoffError):
    """An artifact name the previous release had would disappear."""

    exit_code = 9


class SignError(CastoffError):
    """A signature could not be made, or a key is missing or unusable; names backend and key."""

    exit_code = 10


class VerifyError(CastoffError):
    """An artifact's bytes or one of its signatures does not check out; names both."""

    exit_code = 11


class PreflightError(CastoffError):
    """Something an index or the release would refuse; lists every problem, uploads nothing."""

    exit_code = 12


class PublishError(CastoffError):
    """An upload or an index read failed; the journal says what is done, --resume does the rest."""

    exit_code = 13


class RehearseError(CastoffError):
    """A rehearsal found a target its users could not install or run; the table says which."""

    exit_code = 14


class SourceError(CastoffError):
    """The tag, the version and the commit being released do not agree."""

    exit_code = 15


# Every code in one table, so the README and tests can check that they are distinct.
EXIT_CODES: dict[str, int] = {
    cls.__name__: cls.exit_code
    for cls in (
        CastoffError,
        UsageError,
        ConfigError,
        PlanError,
        ToolMissingError,
        BuildError,
        AuditError,
        AssembleError,
        ContractError,
        SignError,
        VerifyError,
        PreflightError,
        PublishError,
        RehearseError,
        SourceError,
    )
}
