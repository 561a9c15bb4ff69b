"""The GitHub release through the gh CLI (a draft first, published last), or a local folder."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from castoff.build.archive import sha256_file
from castoff.errors import PublishError, UsageError
from castoff.manifest import RELEASE_MANIFEST, ReleaseManifest, name_problem
from castoff.publish.source import COMMIT
from castoff.publish.verified import private_copies, verified_copy
from castoff.results import Report
from castoff.runner import Command, CommandFailedError, Runner

if TYPE_CHECKING:
    from castoff.settings import ReleaseSettings

_INSTALL = "see https://cli.github.com (apt-get install gh)"
# owner/name as GitHub allows them; "." and ".." would walk the API's paths.
REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*/(?!\.\.?$)[A-Za-z0-9._-]+")


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

    def tag_commit(self, tag: str) -> str | None:
        """Return the commit the tag names where the release is made (None: no such tag)."""

    def show(
        self, files: Sequence[Path], title: str, notes: str, report: Report, *, finish: bool
    ) -> None:
        """Show what staging (or, with finish, publishing) would do, doing nothing (dry run)."""


def release_files(manifest: ReleaseManifest) -> dict[str, tuple[str, int | None]]:
    """Return the release's files by name with their verified sha256 and size (if known)."""
    files: dict[str, tuple[str, int | None]] = {}
    for artifact in manifest.artifacts:
        if "github" not in artifact.destinations:
            continue
        files[artifact.name] = (artifact.sha256, artifact.size)
        files.update({s.name: (s.sha256, None) for s in artifact.signatures})
    # With the manifest, a downloaded release shows what each file is (`castoff verify`
    # checks it against the signed files).
    text = _manifest_bytes(manifest)
    files[RELEASE_MANIFEST] = (hashlib.sha256(text).hexdigest(), len(text))
    return files


def _manifest_bytes(manifest: ReleaseManifest) -> bytes:
    return (json.dumps(manifest.to_dict(), indent=2) + "\n").encode()


def stage_release(
    host: ReleaseHost,
    dist: Path,
    manifest: ReleaseManifest,
    *,
    title: str,
    notes: str,
    report: Report,
) -> dict[str, Any]:
    """Create the draft if there is no release, upload the files whose bytes differ, check all."""
    files = release_files(manifest)
    digests = {n: d for n, (d, _) in files.items()}
    missing = [n for n in digests if n != RELEASE_MANIFEST and not (dist / n).is_file()]
    if missing:
        raise PublishError(
            f"{dist}: files for the release are missing: {', '.join(missing)}.",
            hint="Sign the release (castoff sign) before publishing it.",
        )
    existing = host.assets()
    changed = [n for n in digests if (existing or {}).get(n) != digests[n]]
    # What is uploaded is a private copy with the verified bytes, never the folder itself;
    # every copy is checked before the release is created or touched.
    with private_copies() as folder:
        copies = []
        for name in changed:
            if name == RELEASE_MANIFEST:
                (folder / name).write_bytes(_manifest_bytes(manifest))
                copies.append(folder / name)
            else:
                copies.append(verified_copy(dist, name, digests[name], folder, size=files[name][1]))
        if existing is None:
            report(f"{host.where}: creating a draft release")
            host.create_draft(title, notes)
        report(
            f"{host.where}: uploading {len(changed)} of {len(digests)} files "
            f"({len(digests) - len(changed)} already there with the same bytes)"
        )
        if copies:
            host.upload(copies)
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
        "uploaded": changed,
        "unchanged": len(digests) - len(changed),
    }


def check_staged(host: ReleaseHost, manifest: ReleaseManifest) -> dict[str, Any]:
    """Raise unless the staged release holds every file with its verified bytes (no upload)."""
    digests = {n: d for n, (d, _) in release_files(manifest).items()}
    there = host.assets()
    wrong = sorted(n for n, d in digests.items() if (there or {}).get(n) != d)
    if there is None or wrong:
        what = "there is no release" if there is None else "these assets differ or are missing: "
        raise PublishError(
            f"{host.where}: {what}{', '.join(wrong) if there is not None else ''}; nothing was "
            "published.",
            hint="Stage it first (`castoff publish DIST --step stage`), then finish.",
        )
    return {"where": host.where, "uploaded": [], "unchanged": len(digests)}


def finish_release(host: ReleaseHost, report: Report) -> bool:
    """Publish the draft (after the index has every file); return whether it was public before."""
    if host.is_published():
        return True
    report(f"{host.where}: publishing the release")
    host.publish()
    return False


class GhRelease:
    """A GitHub release, driven through the gh CLI (which reads GH_TOKEN or its own login)."""

    def __init__(
        self, repository: str, tag: str, runner: Runner, commit: str | None = None
    ) -> None:
        self.repository = repository
        self.tag = tag
        self.runner = runner
        # gh creates a missing tag at the default branch's head unless told the commit.
        self.target = ("--target", commit) if commit else ()
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
        data = self._json(
            self._gh("view", self.tag, "--json", "isDraft,assets,targetCommitish"),
            "gh release view",
            absent=lambda stderr: "not found" in stderr.lower(),
            hint="Check GH_TOKEN and the repository name.",
        )
        if data is not None and not isinstance(data.get("assets", []), list):
            raise PublishError(
                f"{self.where}: `gh release view` answered something castoff cannot read.",
                hint="Check the gh version (castoff needs one with --json assets).",
            )
        return data

    def _json(
        self, command: Command, shown: str, *, absent: Callable[[str], bool], hint: str
    ) -> dict[str, Any] | None:
        """Return a gh command's JSON object, or None when its stderr says there is none."""
        result = self.runner.capture(command)
        if result.returncode != 0:
            if absent(result.stderr):
                return None
            raise PublishError(
                f"{self.where}: `{shown}` failed: {result.stderr.strip()[-400:]}", hint=hint
            )
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise PublishError(
                f"{self.where}: `{shown}` answered something castoff cannot read.",
                hint="Check the gh version and GH_TOKEN.",
            )
        return data

    def assets(self) -> dict[str, str] | None:
        """Return the assets with their sha256: from GitHub's digest, else by downloading."""
        view = self._view()
        if view is None:
            return None
        at = view.get("targetCommitish")
        if self.target and at != self.target[1]:
            # A draft left by a run of another commit: its files would be replaced by this
            # one's, and the tag made at the other commit when it is published.
            raise PublishError(
                f"{self.where}: the release exists for {str(at)[:80]!r}, not for --commit "
                f"{self.target[1]}; nothing was uploaded to it.",
                hint="Delete the draft on GitHub (`gh release delete TAG`), or release the "
                "commit it was made for.",
            )
        found: dict[str, str] = {}
        undigested = []
        for asset in view.get("assets", []):
            name = asset.get("name") if isinstance(asset, dict) else None
            if not isinstance(name, str) or name_problem(name) is not None:
                continue  # not a file castoff could have uploaded
            digest = asset.get("digest") or ""
            if isinstance(digest, str) and digest.startswith("sha256:"):
                found[name] = digest.removeprefix("sha256:")
            else:
                undigested.append(name)
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
        self._run("create", self.tag, *self.target, "--draft", "--title", title, "--notes", notes)

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
        dry.run(
            self._gh(
                "create", self.tag, *self.target, "--draft", "--title", title, "--notes", notes
            )
        )
        dry.run(self._gh("upload", self.tag, "--clobber", *map(str, files)))

    def is_published(self) -> bool:
        """Return whether the release is public."""
        view = self._view()
        return view is not None and not view.get("isDraft", True)

    def tag_commit(self, tag: str) -> str | None:
        """Return the commit GitHub's tag names (an annotated tag is followed to its commit)."""
        ref = self._api(f"repos/{self.repository}/git/ref/tags/{quote(tag, safe='/')}")
        if ref is None:
            return None
        for _ in range(8):  # a tag of a tag: followed, but not forever
            kind, sha = _object(ref, self.where)
            if kind == "commit":
                return sha
            ref = self._api(f"repos/{self.repository}/git/tags/{sha}")
            if ref is None:
                break
        raise PublishError(
            f"{self.where}: the tag {tag} does not lead to a commit on GitHub.",
            hint="Point the tag at the commit being released.",
        )

    def _api(self, path: str) -> dict[str, Any] | None:
        """Return `gh api PATH` as JSON, or None when GitHub says it does not exist."""
        return self._json(
            Command(argv=("gh", "api", path), install_hint=_INSTALL),
            f"gh api {path}",
            absent=lambda stderr: "(HTTP 404)" in stderr,
            hint="Check GH_TOKEN (contents: read at least) and the repository name.",
        )


def _object(ref: Mapping[str, Any], where: str) -> tuple[str, str]:
    """Return the type and sha of the object a GitHub ref or tag points at, checked."""
    target = ref.get("object")
    kind = target.get("type") if isinstance(target, dict) else None
    sha = target.get("sha") if isinstance(target, dict) else None
    if kind not in ("commit", "tag") or not isinstance(sha, str) or not COMMIT.fullmatch(sha):
        raise PublishError(
            f"{where}: GitHub answered a tag castoff cannot read (no commit or tag object).",
            hint="Check the tag on GitHub; castoff releases tags of commits.",
        )
    return str(kind), sha


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
            json.dumps({"title": title, "notes": notes}), encoding="utf-8", newline="\n"
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

    def tag_commit(self, tag: str) -> str | None:  # noqa: ARG002 - ReleaseHost's signature
        """Return None: a local folder holds no tags (the checkout's are checked)."""
        return None

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


def release_host(where: ReleaseSettings, runner: Runner) -> ReleaseHost | None:
    """Return where the release goes as the settings say (None: not to GitHub)."""
    if not where.github:
        return None
    if where.release_folder is not None:
        return FolderRelease(where.release_folder, where.tag)
    if where.repository and not REPOSITORY.fullmatch(where.repository):
        raise UsageError(
            f"the GitHub repository {where.repository[:100]!r} (tool.castoff.publish.github."
            "repository, else GITHUB_REPOSITORY) is not owner/name.",
            hint="Set owner/name: letters, digits, '-', '_' and '.', not '.' or '..' alone.",
        )
    if not where.repository:
        raise UsageError(
            "the GitHub repository is unknown: tool.castoff.publish.github.repository is not "
            "set and neither is GITHUB_REPOSITORY.",
            hint="Set one of them, or publish into a local folder with --release-folder DIR.",
        )
    return GhRelease(where.repository, where.tag, runner, where.commit)
