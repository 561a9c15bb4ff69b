"""The GitHub release through the gh CLI (a draft first, published last), or a local folder."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from castoff.assemble.assembler import RELEASE_MANIFEST
from castoff.build.archive import sha256_file
from castoff.errors import PublishError
from castoff.runner import Command, CommandFailedError, Runner

Report = Callable[[str], None]
_INSTALL = "see https://cli.github.com (apt-get install gh)"


class ReleaseHost(Protocol):
    """Where the release's files go besides the index: a GitHub release, or a local folder."""

    where: str

    def assets(self) -> dict[str, str] | None:
        """Return the release's assets by name with their sha256, or None if there is no release."""

    def create_draft(self, title: str, notes: str) -> None:
        """Create the release as a draft: nobody sees it until it is published."""

    def upload(self, files: Sequence[Path]) -> None:
        """Upload the files, replacing assets of the same name."""

    def publish(self) -> None:
        """Make the draft public."""

    def is_published(self) -> bool:
        """Return whether the release is public already."""

    def show(
        self, files: Sequence[Path], title: str, notes: str, report: Report, *, finish: bool
    ) -> None:
        """Show what staging (or, with finish, publishing) would do, doing nothing (dry run)."""


def release_files(dist: Path, manifest: Mapping[str, Any]) -> list[Path]:
    """Return the files for the release: GitHub-bound artifacts, their signatures, the manifest."""
    files = []
    for artifact in manifest["artifacts"]:
        if "github" not in artifact["destinations"]:
            continue
        files.append(dist / artifact["name"])
        files += [dist / s["name"] for s in artifact.get("signatures", [])]
    # With the manifest, `castoff verify` checks a downloaded release whole.
    files.append(dist / RELEASE_MANIFEST)
    return files


def stage_release(
    host: ReleaseHost,
    dist: Path,
    manifest: Mapping[str, Any],
    *,
    title: str,
    notes: str,
    report: Report,
) -> dict[str, Any]:
    """Create the draft if there is no release, upload the files whose bytes differ, check all."""
    files = release_files(dist, manifest)
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise PublishError(
            f"{dist}: files for the release are missing: {', '.join(missing)}.",
            hint="Sign the release (castoff sign) before publishing it.",
        )
    existing = host.assets()
    if existing is None:
        report(f"{host.where}: creating a draft release")
        host.create_draft(title, notes)
        existing = {}
    digests = {f.name: sha256_file(f) for f in files}
    changed = [f for f in files if existing.get(f.name) != digests[f.name]]
    report(
        f"{host.where}: uploading {len(changed)} of {len(files)} files "
        f"({len(files) - len(changed)} already there with the same bytes)"
    )
    if changed:
        host.upload(changed)
    after = host.assets() or {}
    wrong = sorted(n for n, d in digests.items() if after.get(n) != d)
    if wrong:
        raise PublishError(
            f"{host.where}: after uploading, these assets differ from the release folder: "
            f"{', '.join(wrong)}.",
            hint="Run the publish again; assets whose bytes differ are replaced.",
        )
    return {
        "where": host.where,
        "uploaded": [f.name for f in changed],
        "unchanged": len(files) - len(changed),
    }


def finish_release(host: ReleaseHost, report: Report) -> bool:
    """Publish the draft (after the index has every file); return whether it was public before."""
    if host.is_published():
        return True
    report(f"{host.where}: publishing the release")
    host.publish()
    return False


class GhRelease:
    """A GitHub release, driven through the gh CLI (which reads GH_TOKEN or its own login)."""

    def __init__(self, repository: str, tag: str, runner: Runner) -> None:
        self.repository = repository
        self.tag = tag
        self.runner = runner
        self.where = f"github.com/{repository} release {tag}"

    def _gh(self, *args: str) -> Command:
        return Command(
            argv=("gh", "release", *args, "--repo", self.repository), install_hint=_INSTALL
        )

    def _run(self, *args: str) -> str:
        try:
            return self.runner.run(self._gh(*args), log=None).stdout
        except CommandFailedError as exc:
            raise PublishError(
                f"{self.where}: `gh release {args[0]}` failed: {exc.result.stderr.strip()[-400:]}",
                hint="Check GH_TOKEN (contents: write) and the repository; then publish again.",
            ) from None

    def _view(self) -> dict[str, Any] | None:
        result = self.runner.capture(self._gh("view", self.tag, "--json", "isDraft,assets"))
        if result.returncode != 0:
            if "not found" in result.stderr.lower():
                return None
            raise PublishError(
                f"{self.where}: `gh release view` failed: {result.stderr.strip()[-400:]}",
                hint="Check GH_TOKEN and the repository name.",
            )
        data: dict[str, Any] = json.loads(result.stdout)
        return data

    def assets(self) -> dict[str, str] | None:
        """Return the assets with their sha256: from GitHub's digest, else by downloading."""
        view = self._view()
        if view is None:
            return None
        found: dict[str, str] = {}
        undigested = []
        for asset in view.get("assets", []):
            digest = asset.get("digest") or ""
            if digest.startswith("sha256:"):
                found[asset["name"]] = digest.removeprefix("sha256:")
            else:
                undigested.append(asset["name"])
        if undigested:
            # Older releases have no digest: their bytes are compared after a download.
            with tempfile.TemporaryDirectory(prefix="castoff-gh-") as tmp:
                patterns = [arg for name in undigested for arg in ("--pattern", name)]
                self._run("download", self.tag, "--dir", tmp, *patterns)
                for name in undigested:
                    found[name] = sha256_file(Path(tmp) / name)
        return found

    def create_draft(self, title: str, notes: str) -> None:
        """Create the draft release on the tag."""
        self._run("create", self.tag, "--draft", "--title", title, "--notes", notes)

    def upload(self, files: Sequence[Path]) -> None:
        """Upload, replacing assets of the same name (--clobber)."""
        self._run("upload", self.tag, "--clobber", *map(str, files))

    def publish(self) -> None:
        """Publish the draft."""
        self._run("edit", self.tag, "--draft=false")

    def show(
        self, files: Sequence[Path], title: str, notes: str, report: Report, *, finish: bool
    ) -> None:
        """Echo the gh commands a first publish runs (a rerun uploads only what differs)."""
        dry = self.runner.dry()
        if finish:
            dry.run(self._gh("edit", self.tag, "--draft=false"))
            return
        report(f"dry run: {self.where}, as a first publish would do it:")
        dry.run(self._gh("create", self.tag, "--draft", "--title", title, "--notes", notes))
        dry.run(self._gh("upload", self.tag, "--clobber", *map(str, files)))

    def is_published(self) -> bool:
        """Return whether the release is public."""
        view = self._view()
        return view is not None and not view.get("isDraft", True)


class FolderRelease:
    """A local folder standing in for the GitHub release (rehearsals): draft/ then published/."""

    def __init__(self, folder: Path, tag: str) -> None:
        self.folder = folder
        self.tag = tag
        self.where = f"{folder} (local release {tag})"

    def _draft(self) -> Path:
        return self.folder / f"{self.tag}.draft"

    def _published(self) -> Path:
        return self.folder / self.tag

    def _current(self) -> Path | None:
        for path in (self._published(), self._draft()):
            if path.is_dir():
                return path
        return None

    def assets(self) -> dict[str, str] | None:
        """Return the files of the release folder with their sha256."""
        current = self._current()
        if current is None:
            return None
        return {p.name: sha256_file(p) for p in current.iterdir() if p.is_file()}

    def create_draft(self, title: str, notes: str) -> None:
        """Create the draft folder with the title and notes."""
        self._draft().mkdir(parents=True)
        (self._draft() / ".release.json").write_text(
            json.dumps({"title": title, "notes": notes}), encoding="utf-8"
        )

    def upload(self, files: Sequence[Path]) -> None:
        """Copy the files in, replacing any of the same name."""
        current = self._current()
        assert current is not None  # noqa: S101 - publish_release creates the draft first
        for file in files:
            shutil.copyfile(file, current / file.name)

    def publish(self) -> None:
        """Rename the draft folder to the tag: published in one step."""
        self._draft().rename(self._published())

    def is_published(self) -> bool:
        """Return whether the folder is published."""
        return self._published().is_dir()

    def show(
        self, files: Sequence[Path], title: str, notes: str, report: Report, *, finish: bool
    ) -> None:
        """Say what would be copied where."""
        if finish:
            return
        report(
            f"dry run: {self.where} would get {len(files)} files in {self._draft()}, then be "
            f"renamed to {self._published()} ({title}; {len(notes)} characters of notes)"
        )
