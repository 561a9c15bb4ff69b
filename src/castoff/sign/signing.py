"""Sign a release folder with every configured backend, verify it, and write its provenance."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from castoff.assemble.assembler import RELEASE_MANIFEST
from castoff.build.archive import sha256_file
from castoff.config import SIGN_BACKENDS, Config
from castoff.errors import CastoffError, PlanError, SignError, UsageError, VerifyError
from castoff.plan import (
    CHECKSUMS_FILE,
    Signature,
    build_plan,
    provenance_filename,
    signatures_for,
)
from castoff.runner import Runner, redact
from castoff.sign import Checker, Signer, gpg, minisign, ssh
from castoff.sign import provenance as prov
from castoff.sign import sigstore as sig
from castoff.sign.keys import (
    KEYS_FILE,
    BackendKeys,
    GpgKeys,
    MinisignKeys,
    SshKeys,
    configured_keys,
    folder_keys,
    private_folder,
    secrets_of,
)

STAGING = ".castoff-sign"
# The name of GitHub Actions' bearer token for requesting an OIDC token (not a secret itself).
OIDC_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105
Report = Callable[[str], None]


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


def read_manifest(dist: Path) -> dict[str, Any]:
    """Read a release folder's manifest.json, refusing anything else."""
    path = dist / RELEASE_MANIFEST
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(
            f"{path}: not found; {dist} is not a castoff release folder.",
            hint="Make it with `castoff assemble`, or download the release with its manifest.json.",
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise PlanError(f"{path}: cannot be read ({exc}).") from None
    if data.get("kind") != "release":
        raise PlanError(f"{path}: not a castoff release manifest (kind is not 'release').")
    return data


def choose_backends(config: Config, wanted: Sequence[str]) -> tuple[str, ...]:
    """Return the backends to act on: those asked for, each of which must be configured."""
    configured = config.sign.backends
    if not configured:
        raise SignError(
            f"{config.pyproject}: tool.castoff.sign.backends is empty, so nothing can be signed.",
            hint="Configure at least one backend; see docs/config.md.",
        )
    for backend in wanted:
        if backend not in configured:
            known = "is not a backend" if backend not in SIGN_BACKENDS else "is not configured"
            raise UsageError(
                f"--backend {backend}: {known} in {config.pyproject} "
                f"(tool.castoff.sign.backends = {list(configured)}).",
                hint="Choose from the configured backends.",
            )
    return tuple(wanted) or configured


def check_files(dist: Path, manifest: Mapping[str, Any]) -> tuple[dict[str, str], list[Problem]]:
    """Hash every artifact the manifest lists; report missing files and changed bytes."""
    digests: dict[str, str] = {}
    problems: list[Problem] = []
    for artifact in manifest["artifacts"]:
        name = artifact["name"]
        path = dist / name
        if not path.is_file():
            problems.append(Problem(artifact=name, backend=None, file=name, problem="missing"))
            continue
        digests[name] = sha256_file(path)
        if digests[name] != artifact["sha256"]:
            problems.append(
                Problem(
                    artifact=name,
                    backend=None,
                    file=name,
                    problem=f"sha256 is {digests[name]}, but the manifest says "
                    f"{artifact['sha256']} (the file changed after assembly)",
                )
            )
    sums = dist / CHECKSUMS_FILE
    if sums.is_file():
        for line in sums.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.partition("  ")
            if name in digests and digests[name] != digest:
                problems.append(
                    Problem(
                        artifact=name,
                        backend=None,
                        file=name,
                        problem=f"sha256 is {digests[name]}, but {CHECKSUMS_FILE} says {digest}",
                    )
                )
    return digests, problems


def _keys(
    config: Config,
    backend: str,
    env: Mapping[str, str],
    keys_dir: Path | None,
    *,
    secret: bool,
) -> BackendKeys:
    if keys_dir is not None:
        return folder_keys(keys_dir, backend, secret=secret)
    return configured_keys(config.sign, backend, env, secret=secret)


def checkers(
    config: Config,
    backends: Sequence[str],
    keys_dir: Path | None,
    runner: Runner,
    scratch: Path,
) -> dict[str, Checker]:
    """Return one checker per backend, each holding public material only."""
    found: dict[str, Checker] = {}
    for backend in backends:
        if backend == "sigstore":
            assert config.sign.sigstore is not None  # noqa: S101 - configured backends have a table
            found[backend] = sig.SigstoreChecker(config.sign.sigstore)
            continue
        keys = _keys(config, backend, {}, keys_dir, secret=False)
        for public in _public_files(keys):
            if not public.is_file():
                raise VerifyError(
                    f"{public}: the {backend} public material is missing.",
                    hint="Commit the public key beside the config (or pass --keys DIR from "
                    "`castoff keygen`).",
                )
        if isinstance(keys, GpgKeys):
            found[backend] = gpg.GpgChecker(keys.public_key, runner, scratch)
        elif isinstance(keys, MinisignKeys):
            found[backend] = minisign.MinisignChecker(keys.public_key, runner)
        else:
            found[backend] = ssh.SshChecker(keys, runner)
    return found


def _public_files(keys: BackendKeys) -> tuple[Path, ...]:
    return (keys.allowed_signers,) if isinstance(keys, SshKeys) else (keys.public_key,)


def _signers(
    keys: Mapping[str, BackendKeys],
    runner: Runner,
    scratch: Path,
    keyless: sig.KeylessSigner | None,
    predicate: Path,
) -> list[Signer]:
    found: list[Signer] = []
    for backend, material in keys.items():
        if isinstance(material, GpgKeys):
            found.append(gpg.GpgSigner(material, runner))
        elif isinstance(material, MinisignKeys):
            found.append(minisign.MinisignSigner(material, runner, scratch))
        elif isinstance(material, SshKeys):
            found.append(ssh.SshSigner(material, runner, scratch))
        else:  # pragma: no cover - keys come from the four backends above
            raise SignError(f"no signer for {backend}")
    if keyless is not None:
        found.append(sig.SigstoreSigner(keyless, predicate))
    return found


def _expected(
    config: Config, artifact: Mapping[str, Any], backends: Sequence[str]
) -> list[Signature]:
    return [
        s
        for s in signatures_for(config, artifact["name"], artifact["kind"])
        if s.backend in backends
    ]


def _provenance_entry(config: Config, manifest: Mapping[str, Any], path: Path) -> dict[str, Any]:
    planned = next(a for a in build_plan(config).artifacts if a.kind == "provenance")
    name = provenance_filename(manifest["name"], manifest["version"])
    return {
        "name": name,
        "kind": "provenance",
        "target": None,
        "sha256": sha256_file(path),
        "size": path.stat().st_size,
        "destinations": list(planned.destinations),
        "excluded": [asdict(e) for e in planned.excluded],
        "alias_of": None,
        "platform_tags": [],
        "signatures": [],
    }


def sign_release(
    dist: Path,
    config: Config,
    *,
    backends: Sequence[str],
    env: Mapping[str, str],
    keys_dir: Path | None,
    runner: Runner,
    keyless: sig.KeylessSigner | None,
    report: Report,
) -> dict[str, Any]:
    """Sign every artifact and the provenance, verify every new signature, then update dist."""
    chosen = choose_backends(config, backends)
    manifest = read_manifest(dist)
    _, problems = check_files(
        dist,
        {**manifest, "artifacts": [a for a in manifest["artifacts"] if a["kind"] != "provenance"]},
    )
    if problems:
        raise VerifyError(
            f"not signing {dist}: " + "; ".join(p.line() for p in problems) + ".",
            hint="Assemble the release again; castoff signs only the bytes it assembled.",
            details={"problems": [asdict(p) for p in problems]},
        )
    if "sigstore" in chosen:
        sig.require_libraries()
    # Every key is read before anything is signed: a missing secret stops the step up front.
    keys = {b: _keys(config, b, env, keys_dir, secret=True) for b in chosen if b != "sigstore"}
    secrets = secrets_of(keys.values())
    if "sigstore" in chosen and env.get(OIDC_REQUEST_TOKEN):
        # sigstore's tools read it themselves; whatever they print is shown without it.
        secrets.append(env[OIDC_REQUEST_TOKEN])
    runner = runner.with_secrets(secrets)
    if "sigstore" in chosen:
        keyless = keyless or sig.AmbientSigstore(runner, env)
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
            keyless=keyless if "sigstore" in chosen else None,
            report=report,
        )
    except CastoffError as exc:
        # Whatever a tool said on the way to an error is shown without the secrets in it.
        exc.message = redact(exc.message, secrets)
        exc.hint = redact(exc.hint, secrets) if exc.hint else None
        exc.args = (exc.message,)
        raise


def _sign(  # noqa: PLR0913
    dist: Path,
    config: Config,
    manifest: dict[str, Any],
    *,
    chosen: Sequence[str],
    keys: Mapping[str, BackendKeys],
    env: Mapping[str, str],
    keys_dir: Path | None,
    runner: Runner,
    keyless: sig.KeylessSigner | None,
    report: Report,
) -> dict[str, Any]:
    artifacts = [a for a in manifest["artifacts"] if a["kind"] != "provenance"]
    statement = prov.statement({**manifest, "artifacts": artifacts}, env)
    staging = dist / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        provenance_path = staging / provenance_filename(manifest["name"], manifest["version"])
        provenance_path.write_text(prov.to_text(statement), encoding="utf-8")
        predicate = staging / ".slsa-predicate.json"
        predicate.write_text(prov.to_text(statement["predicate"]), encoding="utf-8")
        entry = _provenance_entry(config, manifest, provenance_path)
        before = next((a for a in manifest["artifacts"] if a["kind"] == "provenance"), None)
        if before is not None and before["sha256"] == entry["sha256"]:
            # Signed again with other backends (one job per backend): the earlier signatures
            # of the same statement still hold.
            entry["signatures"] = before["signatures"]
        artifacts.append(entry)
        # Signed as links in a folder of their own: tools that write <file><suffix> beside their
        # input write into staging, and dist changes only once every signature verified.
        for artifact in artifacts[:-1]:
            if _expected(config, artifact, chosen):
                _link(dist / artifact["name"], staging / artifact["name"])
        with private_folder() as scratch:
            for signer in _signers(keys, runner, scratch, keyless, predicate):
                files = [
                    staging / a["name"]
                    for a in artifacts
                    if any(s.backend == signer.backend for s in _expected(config, a, chosen))
                ]
                report(f"{signer.backend}: signing {len(files)} files")
                signer.sign(files)
            report("verifying every new signature with public material only")
            problems = _verify_all(
                staging,
                config,
                artifacts,
                chosen,
                checkers(config, chosen, keys_dir, runner, scratch),
            )
        if problems:
            raise VerifyError(
                "a signature made just now does not verify: "
                + "; ".join(p.line() for p in problems)
                + ".",
                hint="Check that the public key in the config belongs to the signing key.",
                details={"problems": [asdict(p) for p in problems]},
            )
        for artifact in artifacts:
            made = []
            for signature in _expected(config, artifact, chosen):
                (staging / signature.name).replace(dist / signature.name)
                made.append(
                    {
                        "backend": signature.backend,
                        "name": signature.name,
                        "sha256": sha256_file(dist / signature.name),
                    }
                )
            kept = [s for s in artifact.get("signatures", []) if s["backend"] not in chosen]
            artifact["signatures"] = kept + made
        provenance_path.replace(dist / entry["name"])
        manifest["artifacts"] = artifacts
        manifest["provenance"] = entry["name"]
        tmp = dist / f"{RELEASE_MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        tmp.replace(dist / RELEASE_MANIFEST)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _link(source: Path, link: Path) -> None:
    try:
        link.hardlink_to(source)
    except OSError:
        shutil.copyfile(source, link)


def _verify_all(
    folder: Path,
    config: Config,
    artifacts: Sequence[Mapping[str, Any]],
    backends: Sequence[str],
    found: Mapping[str, Checker],
) -> list[Problem]:
    problems: list[Problem] = []
    for artifact in artifacts:
        for signature in _expected(config, artifact, backends):
            path = folder / signature.name
            problem = (
                found[signature.backend].verify(folder / artifact["name"], path)
                if path.is_file()
                else "missing"
            )
            if problem is not None:
                problems.append(
                    Problem(
                        artifact=artifact["name"],
                        backend=signature.backend,
                        file=signature.name,
                        problem=problem,
                    )
                )
    return problems


def verify_release(
    dist: Path,
    config: Config,
    *,
    backends: Sequence[str],
    keys_dir: Path | None,
    runner: Runner,
    report: Report,
    checked: tuple[dict[str, str], list[Problem]] | None = None,
) -> dict[str, Any]:
    """Check every artifact's bytes and every signature it must have; list all problems.

    `checked` is what check_files found for this folder already, so it is not hashed twice.
    """
    chosen = choose_backends(config, backends)
    manifest = read_manifest(dist)
    if checked is None:
        report(f"hashing {len(manifest['artifacts'])} files")
        checked = check_files(dist, manifest)
    digests, problems = checked[0], list(checked[1])
    name = provenance_filename(manifest["name"], manifest["version"])
    entry = next((a for a in manifest["artifacts"] if a["kind"] == "provenance"), None)
    if entry is None:
        problems.append(
            Problem(
                artifact=name,
                backend=None,
                file=name,
                problem="missing from the manifest: the release was not signed (castoff sign)",
            )
        )
    elif name in digests:
        statement = json.loads((dist / name).read_text(encoding="utf-8"))
        subjects = {s["name"]: s["digest"]["sha256"] for s in statement.get("subject", [])}
        for artifact in manifest["artifacts"]:
            # Against the manifest: a file that changed is reported above, on its own.
            if (
                artifact["kind"] != "provenance"
                and subjects.get(artifact["name"]) != artifact["sha256"]
            ):
                problems.append(
                    Problem(
                        artifact=name,
                        backend=None,
                        file=name,
                        problem=f"does not name {artifact['name']} with its sha256",
                    )
                )
    report(f"verifying signatures: {', '.join(chosen)}")
    with private_folder() as scratch:
        problems += _verify_all(
            dist,
            config,
            manifest["artifacts"],
            chosen,
            checkers(config, chosen, keys_dir, runner, scratch),
        )
    doc: dict[str, Any] = {
        "dist": str(dist),
        "backends": list(chosen),
        "artifacts": [
            {"artifact": a["name"], "signatures": [s.name for s in _expected(config, a, chosen)]}
            for a in manifest["artifacts"]
        ],
        "problems": [asdict(p) for p in problems],
    }
    if problems:
        raise VerifyError(
            f"{dist}: {len(problems)} problems: " + "; ".join(p.line() for p in problems) + ".",
            hint="Do not publish or install these files; download or build them again.",
            details=doc,
        )
    return doc


def keygen(folder: Path, config: Config, runner: Runner) -> dict[str, Any]:
    """Make throwaway keys for every configured key-based backend, for rehearsals and tests."""
    if folder.exists() and any(folder.iterdir()):
        raise UsageError(
            f"{folder}: is not empty; castoff keygen writes throwaway keys into a new folder.",
            hint="Choose a new folder (keys are cheap; never reuse throwaway keys for a release).",
        )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = folder.resolve()
    entries: dict[str, dict[str, str]] = {}
    for backend in config.sign.backends:
        if backend == "gpg":
            entries[backend] = gpg.throwaway(folder, "castoff-throwaway@castoff.invalid", runner)
        elif backend == "minisign":
            entries[backend] = minisign.throwaway(folder, runner)
        elif backend == "ssh":
            assert config.sign.ssh is not None  # noqa: S101 - configured backends have a table
            entries[backend] = ssh.throwaway(
                folder, config.sign.ssh.identity, config.sign.ssh.namespace, runner
            )
    (folder / KEYS_FILE).write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    return {
        "folder": str(folder),
        "backends": sorted(entries),
        "keyless": [b for b in config.sign.backends if b == "sigstore"],
    }
