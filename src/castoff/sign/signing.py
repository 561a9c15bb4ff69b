"""Sign a release folder with every configured backend, verify it, and write its provenance."""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from castoff.build.archive import sha256_file
from castoff.config import Config, SignConfig
from castoff.errors import CastoffError, SignError, UsageError, VerifyError
from castoff.folders import check_claimable, mark
from castoff.manifest import (
    CHECKSUMS_FILE,
    ReleaseArtifact,
    ReleaseManifest,
    SignatureRecord,
    parse_checksums,
)
from castoff.plan import Signature, provenance_filename, signatures_of
from castoff.results import KeygenResult, Report
from castoff.runner import Runner, redact
from castoff.sign import Checker, registry
from castoff.sign import provenance as prov
from castoff.sign.backend import SignContext
from castoff.sign.keys import KEYS_FILE, key_folder_entry, private_folder


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong with a release folder: the file, the backend (if any), and what."""

    artifact: str
    backend: str | None
    file: str
    problem: str

    def line(self) -> str:
        """Return the problem as one clause naming the file and the backend."""
        what = f"{self.backend} signature {self.file}" if self.backend else self.file
        return f"{what}: {self.problem}"


def choose_backends(config: Config, wanted: Sequence[str]) -> tuple[str, ...]:
    """Return the backends to act on: those asked for, each of which must be configured."""
    configured = config.sign.backends
    if not configured:
        raise SignError(
            f"{config.pyproject}: tool.castoff.sign.backends is empty, so there is nothing to "
            "sign or verify with.",
            hint="Configure at least one backend; see docs/config.md.",
        )
    for backend in wanted:
        if backend not in configured:
            known = "is not a backend" if backend not in registry.names() else "is not configured"
            raise UsageError(
                f"--backend {backend}: {known} in {config.pyproject} "
                f"(tool.castoff.sign.backends = {list(configured)}).",
                hint="Choose from the configured backends.",
            )
    return tuple(dict.fromkeys(wanted)) or configured


def file_sha256(path: Path) -> str | None:
    """Return a regular file's sha256, or None when it is missing, a link or not a file."""
    if path.is_symlink() or not path.is_file():
        return None
    return sha256_file(path)


def check_files(dist: Path, manifest: ReleaseManifest) -> tuple[dict[str, str], list[Problem]]:
    """Hash every file the manifest lists; report missing files, changed bytes, SHA256SUMS."""
    digests: dict[str, str] = {}
    problems: list[Problem] = []
    for artifact in manifest.artifacts:
        name = artifact.name
        digest = file_sha256(dist / name)
        if digest is None:
            problems.append(Problem(artifact=name, backend=None, file=name, problem="missing"))
            continue
        digests[name] = digest
        if digest != artifact.sha256:
            problems.append(
                Problem(
                    artifact=name,
                    backend=None,
                    file=name,
                    problem=f"sha256 is {digest}, but the manifest says "
                    f"{artifact.sha256} (the file changed after assembly)",
                )
            )
    if CHECKSUMS_FILE in digests:
        try:
            sums = parse_checksums((dist / CHECKSUMS_FILE).read_bytes(), str(dist / CHECKSUMS_FILE))
        except CastoffError as exc:
            problems.append(
                Problem(
                    artifact=CHECKSUMS_FILE, backend=None, file=CHECKSUMS_FILE, problem=exc.message
                )
            )
            sums = {}
        listed = {
            a.name: a.sha256 for a in manifest.artifacts if a.kind in ("wheel", "archive", "sdist")
        }
        for name in sorted(set(sums) | set(listed)):
            if sums.get(name) != listed.get(name):
                problems.append(
                    Problem(
                        artifact=name,
                        backend=None,
                        file=CHECKSUMS_FILE,
                        problem=f"lists {name} with sha256 {sums.get(name)}, but the manifest "
                        f"says {listed.get(name)}",
                    )
                )
    return digests, problems


def configured_keys(sign: SignConfig, name: str, env: Mapping[str, str], *, secret: bool) -> object:
    """Return a backend's keys as the config names them; secrets only when signing."""
    return registry.get(name).keys(sign.settings[name], env, secret=secret)


def folder_keys(folder: Path, name: str, *, secret: bool) -> object:
    """Return a backend's keys from a folder `castoff keygen` wrote."""
    return registry.get(name).folder_keys(folder, key_folder_entry(folder, name), secret=secret)


def backend_keys(
    config: Config,
    name: str,
    env: Mapping[str, str],
    keys_dir: Path | None,
    *,
    secret: bool,
) -> object:
    """Return a backend's keys: from `castoff keygen`'s folder, else as the config names them."""
    if keys_dir is not None and not registry.get(name).keyless:
        return folder_keys(keys_dir, name, secret=secret)
    return configured_keys(config.sign, name, env, secret=secret)


def checkers(
    config: Config,
    backends: Sequence[str],
    keys_dir: Path | None,
    runner: Runner,
    scratch: Path,
) -> dict[str, Checker]:
    """Return one checker per backend, each holding public material only."""
    found: dict[str, Checker] = {}
    for name in backends:
        backend = registry.get(name)
        keys = backend_keys(config, name, {}, keys_dir, secret=False)
        for public in backend.public_files(keys):
            if not public.is_file():
                where = (
                    f"{keys_dir / KEYS_FILE}"
                    if keys_dir is not None
                    else f"{config.pyproject}: tool.castoff.sign.{name}"
                )
                raise VerifyError(
                    f"{where} names {public} as the {name} public key, and there is no such "
                    "file; verifying needs it.",
                    hint="Commit the public key beside the config (or pass --keys DIR from "
                    "`castoff keygen`).",
                )
        found[name] = backend.checker(keys, config.sign.settings[name], runner, scratch)
    return found


def expected_signatures(
    artifact: ReleaseArtifact, backends: Sequence[str]
) -> tuple[Signature, ...]:
    """Return the signatures these backends write for a release file."""
    return signatures_of(artifact.name, artifact.kind, backends)


def sign_release(
    dist: Path,
    config: Config,
    *,
    backends: Sequence[str],
    env: Mapping[str, str],
    keys_dir: Path | None,
    runner: Runner,
    report: Report,
    services: Mapping[str, object] | None = None,
) -> ReleaseManifest:
    """Sign every artifact and the provenance, verify every new signature, then update dist.

    `services` stands in for a backend's online signing service, by backend name (tests).
    """
    chosen = choose_backends(config, backends)
    manifest = ReleaseManifest.read(dist)
    unsigned = dataclasses.replace(
        manifest, artifacts=tuple(a for a in manifest.artifacts if a.kind != "provenance")
    )
    _, problems = check_files(dist, unsigned)
    if problems:
        raise VerifyError(
            f"not signing {dist}: " + "; ".join(p.line() for p in problems) + ".",
            hint="Assemble the release again; castoff signs only the bytes it assembled.",
            details={"problems": [asdict(p) for p in problems]},
        )
    # Every key is read before anything is signed: a missing secret stops the step up front.
    keys = {b: backend_keys(config, b, env, keys_dir, secret=True) for b in chosen}
    secrets = [s for b in chosen for s in registry.get(b).secrets(keys[b])]
    runner = runner.with_secrets(secrets)
    try:
        return _sign(
            dist,
            config,
            manifest,
            chosen=chosen,
            keys=keys,
            env=env,
            keys_dir=keys_dir,
            runner=runner,
            services=services or {},
            report=report,
        )
    except CastoffError as exc:
        # Whatever a tool said on the way to an error is shown without the secrets in it.
        exc.message = redact(exc.message, secrets)
        exc.hint = redact(exc.hint, secrets) if exc.hint else None
        exc.args = (exc.message,)
        raise


def _provenance_artifact(manifest: ReleaseManifest, path: Path) -> ReleaseArtifact:
    # The plan routes the provenance as it routes SHA256SUMS: to the GitHub release only.
    sums = manifest.artifact(CHECKSUMS_FILE)
    if sums is None:
        raise VerifyError(
            f"{path.parent.parent}: the manifest lists no {CHECKSUMS_FILE}.",
            hint="Assemble the release again.",
        )
    return ReleaseArtifact(
        name=path.name,
        kind="provenance",
        target=None,
        sha256=sha256_file(path),
        size=path.stat().st_size,
        destinations=sums.destinations,
        excluded=sums.excluded,
        alias_of=None,
        platform_tags=(),
        signatures=(),
    )


def _sign(  # noqa: PLR0913
    dist: Path,
    config: Config,
    manifest: ReleaseManifest,
    *,
    chosen: Sequence[str],
    keys: Mapping[str, object],
    env: Mapping[str, str],
    keys_dir: Path | None,
    runner: Runner,
    services: Mapping[str, object],
    report: Report,
) -> ReleaseManifest:
    artifacts = [a for a in manifest.artifacts if a.kind != "provenance"]
    statement = prov.statement(dataclasses.replace(manifest, artifacts=tuple(artifacts)), env)
    # A new private folder inside dist (same file system): never a name someone else uses.
    staging = Path(tempfile.mkdtemp(prefix=".castoff-sign-", dir=dist))
    try:
        provenance_path = staging / provenance_filename(manifest.name, manifest.version)
        provenance_path.write_text(prov.to_text(statement), encoding="utf-8", newline="\n")
        predicate = staging / ".slsa-predicate.json"
        predicate.write_text(prov.to_text(statement["predicate"]), encoding="utf-8", newline="\n")
        entry = _provenance_artifact(manifest, provenance_path)
        before = next((a for a in manifest.artifacts if a.kind == "provenance"), None)
        if before is not None and before.sha256 == entry.sha256:
            # Signed again with other backends (one job per backend): the earlier signatures
            # of the same statement still hold.
            entry = dataclasses.replace(entry, signatures=before.signatures)
        artifacts.append(entry)
        # Signed as links in a folder of their own: tools that write <file><suffix> beside their
        # input write into staging, and dist changes only once every signature verified.
        for artifact in artifacts[:-1]:
            if expected_signatures(artifact, chosen):
                _link(dist / artifact.name, staging / artifact.name)
        with private_folder() as scratch:
            context = SignContext(
                runner=runner, scratch=scratch, env=env, predicate=predicate, services=services
            )
            for name in chosen:
                signer = registry.get(name).signer(keys[name], config.sign.settings[name], context)
                files = [
                    staging / a.name
                    for a in artifacts
                    if any(s.backend == name for s in expected_signatures(a, chosen))
                ]
                report(f"{name}: signing {len(files)} files")
                signer.sign(files)
            report("verifying every new signature with public material only")
            problems = verify_signatures(
                staging, artifacts, chosen, checkers(config, chosen, keys_dir, runner, scratch)
            )
        if problems:
            raise VerifyError(
                "a signature made just now does not verify: "
                + "; ".join(p.line() for p in problems)
                + ".",
                hint="Check that the public key in the config belongs to the signing key.",
                details={"problems": [asdict(p) for p in problems]},
            )
        signed: list[ReleaseArtifact] = []
        for artifact in artifacts:
            made = []
            for signature in expected_signatures(artifact, chosen):
                (staging / signature.name).replace(dist / signature.name)
                made.append(
                    SignatureRecord(
                        backend=signature.backend,
                        name=signature.name,
                        sha256=sha256_file(dist / signature.name),
                    )
                )
            kept = [s for s in artifact.signatures if s.backend not in chosen]
            signed.append(dataclasses.replace(artifact, signatures=(*kept, *made)))
        provenance_path.replace(dist / entry.name)
        result = dataclasses.replace(manifest, artifacts=tuple(signed), provenance=entry.name)
        result.write(dist)
        mark(dist, "release", [entry.name, *(s.name for a in signed for s in a.signatures)])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def _link(source: Path, link: Path) -> None:
    try:
        link.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, link)


def verify_signatures(
    folder: Path,
    artifacts: Sequence[ReleaseArtifact],
    backends: Sequence[str],
    found: Mapping[str, Checker],
) -> list[Problem]:
    """Check each signature these backends must have made of each file, in a folder."""
    problems: list[Problem] = []
    for artifact in artifacts:
        for signature in expected_signatures(artifact, backends):
            path = folder / signature.name
            problem = (
                found[signature.backend].verify(folder / artifact.name, path)
                if path.is_file() and not path.is_symlink()
                else "missing"
            )
            if problem is not None:
                problems.append(
                    Problem(
                        artifact=artifact.name,
                        backend=signature.backend,
                        file=signature.name,
                        problem=problem,
                    )
                )
    return problems


def keygen(folder: Path, config: Config, runner: Runner) -> KeygenResult:
    """Make throwaway keys for every configured key-based backend, for rehearsals and tests."""
    check_claimable(folder, "keys", UsageError, "DIR")
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(
            f"{folder}: holds keys already; castoff keygen writes throwaway keys into a new "
            "folder.",
            hint="Choose a new folder (keys are cheap; never reuse throwaway keys for a release).",
        )
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = folder.resolve()
    entries: dict[str, dict[str, str]] = {}
    try:
        for name in config.sign.backends:
            entry = registry.get(name).throwaway(folder, config.sign.settings[name], runner)
            if entry is not None:
                entries[name] = entry
        (folder / KEYS_FILE).write_text(
            json.dumps(entries, indent=2) + "\n", encoding="utf-8", newline="\n"
        )
    except BaseException:
        # Everything in the folder is what this command just wrote.
        for path in folder.iterdir():
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        if created:
            folder.rmdir()
        raise
    mark(folder, "keys", [p.name for p in folder.iterdir()])
    return KeygenResult(
        folder=folder,
        backends=tuple(sorted(entries)),
        keyless=tuple(b for b in config.sign.backends if registry.get(b).keyless),
    )
