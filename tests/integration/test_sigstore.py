"""sigstore: real bundles and PEP 740 attestations verified offline; only signing is faked."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from castoff.config import load
from castoff.errors import VerifyError
from castoff.runner import Runner
from castoff.sign.signing import sign_release
from castoff.sign.sigstore import SigstoreChecker, SigstoreConfig
from tests.conftest import REPO
from tests.integration.conftest import castoff, project_with_sign_table

FIXTURES = REPO / "tests" / "fixtures" / "sigstore"
GITHUB = "https://token.actions.githubusercontent.com"
# Made by actions/attest@v1 in trailofbits/pypi-attestation-models (see the fixtures' README).
BUNDLED = FIXTURES / "pypi_attestation_models-0.0.4a2.tar.gz"
BUNDLE = FIXTURES / "pypi_attestation_models-0.0.4a2.tar.gz.sigstore"
# Made by the release workflow of trailofbits/pypi-attestations.
ATTESTED = FIXTURES / "pypi_attestations-0.0.19.tar.gz"
ATTESTATION = FIXTURES / "pypi_attestations-0.0.19.tar.gz.publish.attestation"


def _checker(*, repository: str | None = None, identity: str | None = None) -> SigstoreChecker:
    return SigstoreChecker(SigstoreConfig(repository=repository, identity=identity, issuer=GITHUB))


def _flipped(source: Path, folder: Path) -> Path:
    copy = folder / source.name
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(data)
    return copy


def test_a_real_bundle_verifies_offline_for_its_repository_only(tmp_path: Path) -> None:
    """A production bundle checks out offline; another repository or other bytes do not."""
    assert (
        _checker(repository="trailofbits/pypi-attestation-models").verify(BUNDLED, BUNDLE) is None
    )
    wrong_repo = _checker(repository="castoff-dev/hello").verify(BUNDLED, BUNDLE)
    assert wrong_repo is not None
    assert "castoff-dev/hello" in wrong_repo
    changed = _flipped(BUNDLED, tmp_path)
    problem = _checker(repository="trailofbits/pypi-attestation-models").verify(changed, BUNDLE)
    assert problem is not None
    assert "no subject" in problem


def test_a_real_pep740_attestation_verifies_offline(tmp_path: Path) -> None:
    """A PEP 740 publish attestation checks out offline, by repository or by identity."""
    assert (
        _checker(repository="trailofbits/pypi-attestations").verify(ATTESTED, ATTESTATION) is None
    )
    identity = (
        "https://github.com/trailofbits/pypi-attestations/.github/workflows/release.yml"
        "@refs/tags/v0.0.19"
    )
    assert _checker(identity=identity).verify(ATTESTED, ATTESTATION) is None
    assert _checker(identity=identity.replace("v0.0.19", "v0.0.18")).verify(ATTESTED, ATTESTATION)
    changed = _flipped(ATTESTED, tmp_path)
    assert _checker(repository="trailofbits/pypi-attestations").verify(changed, ATTESTATION)


def test_a_damaged_bundle_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    """A bundle that is not JSON, or has a changed signature, is reported as such."""
    not_json = tmp_path / "bundle.sigstore.json"
    not_json.write_text("{")
    assert _checker(repository="trailofbits/pypi-attestation-models").verify(BUNDLED, not_json)
    bundle = json.loads(BUNDLE.read_text())
    signature = bundle["dsseEnvelope"]["signatures"][0]
    signature["sig"] = signature["sig"][:-8] + "AAAAAAA="
    damaged = tmp_path / "damaged.sigstore.json"
    damaged.write_text(json.dumps(bundle))
    assert _checker(repository="trailofbits/pypi-attestation-models").verify(BUNDLED, damaged)


class ReplayKeyless:
    """FAKE of sigstore's online signing: writes the recorded production bundle for every file."""

    def __init__(self) -> None:
        self.attested: list[list[str]] = []
        self.predicates: list[dict[str, object]] = []
        self.dists: list[list[str]] = []

    def attest(self, files: Sequence[Path], predicate: Path) -> None:
        """Write the recorded bundle beside each file, as `sigstore attest` would name it."""
        self.attested.append([f.name for f in files])
        self.predicates.append(json.loads(predicate.read_text()))
        for file in files:
            shutil.copy(BUNDLE, f"{file}.sigstore.json")

    def attest_dists(self, dists: Sequence[Path]) -> None:
        """Record the call (no PEP 740 attestation of the release below was recorded)."""
        self.dists.append([d.name for d in dists])


SIGSTORE_TABLE = """[tool.castoff.sign]
backends = ["sigstore"]

[tool.castoff.sign.sigstore]
repository = "trailofbits/pypi-attestation-models"
"""


def _release(folder: Path) -> Path:
    """Make a release folder around the bundled sdist, shaped as `castoff assemble` writes it."""
    folder.mkdir()
    shutil.copy(BUNDLED, folder / BUNDLED.name)
    digest = hashlib.sha256(BUNDLED.read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  {BUNDLED.name}\n")
    sums = hashlib.sha256((folder / "SHA256SUMS").read_bytes()).hexdigest()

    def entry(name: str, kind: str, sha256: str) -> dict[str, object]:
        return {
            "name": name,
            "kind": kind,
            "target": None,
            "sha256": sha256,
            "size": (folder / name).stat().st_size,
            "destinations": ["github"],
            "excluded": [],
            "alias_of": None,
            "platform_tags": [],
            "signatures": [],
        }

    manifest = {
        "schema_version": 1,
        "kind": "release",
        "name": "castoff-hello",
        "version": "0.1.0",
        "artifacts": [
            entry(BUNDLED.name, "archive", digest),
            entry("SHA256SUMS", "checksum", sums),
        ],
        "builds": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_sigstore_signing_faked_by_replay_is_verified_for_real_and_stops_on_bad_bundles(
    tmp_path: Path,
) -> None:
    """With signing FAKED, castoff's own check accepts the real bundle and names the bad ones."""
    config = load(project_with_sign_table(tmp_path / "project", SIGSTORE_TABLE))
    release = _release(tmp_path / "dist")
    before = sorted(p.name for p in release.iterdir())
    fake = ReplayKeyless()
    with pytest.raises(VerifyError) as caught:
        sign_release(
            release,
            config,
            backends=(),
            env=dict(os.environ),
            keys_dir=None,
            runner=Runner(base_env=os.environ, echo=lambda _: None),
            services={"sigstore": fake},
            report=lambda _: None,
        )
    # One attest call for everything: the sdist, SHA256SUMS and the provenance statement.
    assert fake.attested == [[BUNDLED.name, "SHA256SUMS", "castoff_hello-0.1.0.intoto.json"]]
    assert fake.predicates[0]["buildDefinition"]["externalParameters"]["version"] == "0.1.0"  # type: ignore[index]
    # Named as an sdist is, it is handed to PEP 740 signing too (its manifest calls it an
    # archive, so no attestation is expected of it below).
    assert fake.dists == [[BUNDLED.name]]
    problems = caught.value.details["problems"]
    assert isinstance(problems, list)
    # The recorded bundle really is the sdist's: only the other two files are refused.
    assert {(p["artifact"], p["backend"]) for p in problems} == {
        ("SHA256SUMS", "sigstore"),
        ("castoff_hello-0.1.0.intoto.json", "sigstore"),
    }
    assert "no subject SHA256SUMS" in caught.value.message
    assert sorted(p.name for p in release.iterdir()) == before  # nothing half-done


def test_sigstore_signing_in_a_faked_github_actions_env_fails_cleanly_without_the_token(
    tmp_path: Path,
) -> None:
    """FAKED GitHub Actions environment: the real sigstore tool fails offline; no token shows."""
    config = project_with_sign_table(tmp_path / "project", SIGSTORE_TABLE)
    release = _release(tmp_path / "dist")
    before = sorted(p.name for p in release.iterdir())
    token = "fake-oidc-bearer-token-6f1c2a"  # noqa: S105 - a made-up token to search outputs for
    env = {
        "GITHUB_ACTIONS": "true",
        # Port 9 (discard) is closed: asking for the OIDC token fails at once.
        "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/token",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": token,
    }
    result = castoff("--debug", "sign", "--config", str(config), str(release), "--json", env=env)
    assert result.returncode == 10, result.stderr
    assert "sigstore could not sign" in result.stderr
    assert token not in result.stdout + result.stderr
    assert sorted(p.name for p in release.iterdir()) == before
