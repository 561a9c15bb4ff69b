"""The artifact contract: archive names downstream tools download by name stay, or are retired."""

from __future__ import annotations

from pathlib import Path

from castoff.config import Config
from castoff.errors import ContractError, PlanError
from castoff.manifest import previous_artifacts

# Archives and checksum files are named without the version and downloaded by name; wheels and
# the provenance carry the version, so each release has new ones.
CONTRACT_KINDS = ("archive", "checksum")


def check_contract(config: Config, names: set[str], previous: Path | None) -> None:
    """Refuse a release that drops an archive name the previous release had, unless retired."""
    if previous is None:
        return
    try:
        listed = previous_artifacts(previous)
    except PlanError as exc:
        raise ContractError(
            f"the previous release's manifest cannot be read: {exc.message}",
            hint="Point contract.previous-manifest (or --previous) at the manifest.json of the "
            "last release.",
        ) from None
    before = {name for name, kind in listed if kind in CONTRACT_KINDS}
    retired = dict(config.contract.retired)
    gone = sorted(before - names - set(retired))
    if gone:
        raise ContractError(
            f"the previous release ({previous}) had {', '.join(gone)}, which this release lacks; "
            "downstream tools download archives by name.",
            hint="Build them again (or alias them), or retire each with a reason in "
            "tool.castoff.contract.retired.",
        )
