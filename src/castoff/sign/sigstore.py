"""sigstore: keyless signing in GitHub Actions, and offline verification of bundles and PEP 740."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from castoff.build.archive import sha256_file
from castoff.config import SigstoreConfig
from castoff.errors import SignError, ToolMissingError
from castoff.plan import ATTESTATION_SUFFIX
from castoff.runner import Command, CommandFailedError, Runner
from castoff.sign import last_line

if TYPE_CHECKING:
    from sigstore.verify import Verifier
    from sigstore.verify.policy import VerificationPolicy

SUFFIX = ".sigstore.json"
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
_INSTALL = "pip install 'castoff[sigstore]'"


def require_libraries() -> None:
    """Refuse early, with the install command, when the sigstore extra is not installed."""
    missing = [m for m in ("sigstore", "pypi_attestations") if importlib.util.find_spec(m) is None]
    if missing:
        raise ToolMissingError(
            f"the sigstore backend needs the Python packages {', '.join(missing)}, which are not "
            "installed.",
            hint=f"Install them: {_INSTALL}.",
        )


class KeylessSigner(Protocol):
    """The one seam to sigstore's online services (Fulcio, Rekor), which need an OIDC identity."""

    def attest(self, files: Sequence[Path], predicate: Path) -> None:
        """Write <file>.sigstore.json: an in-toto statement about the file with this predicate."""

    def attest_wheels(self, wheels: Sequence[Path]) -> None:
        """Write <wheel>.publish.attestation: the PEP 740 attestation twine uploads."""


class AmbientSigstore:
    """Signs with the OIDC token GitHub Actions gives a job with `id-token: write`."""

    def __init__(self, runner: Runner, env: Mapping[str, str]) -> None:
        self.runner = runner
        self.env = env

    def _check_identity(self) -> None:
        if not self.env.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
            raise SignError(
                "sigstore signs keylessly with the identity of a GitHub Actions job, and this "
                "is not one (ACTIONS_ID_TOKEN_REQUEST_URL is not set).",
                hint="Sign with sigstore in the release workflow (with `permissions: id-token: "
                "write`); here, pass --backend for the other configured backends.",
            )

    def _run(self, argv: tuple[str, ...], files: Sequence[Path]) -> None:
        self._check_identity()
        try:
            self.runner.run(Command(argv=argv, install_hint=_INSTALL))
        except CommandFailedError as exc:
            raise SignError(
                f"sigstore could not sign {', '.join(f.name for f in files)}: "
                f"{last_line(exc.result.stderr)}",
                hint="Check that the job has `permissions: id-token: write`.",
            ) from None

    def attest(self, files: Sequence[Path], predicate: Path) -> None:
        """Run `sigstore attest` over all files: one certificate, one bundle per file."""
        argv = (sys.executable, "-m", "sigstore", "attest", "--predicate-type", SLSA_PROVENANCE)
        self._run((*argv, "--predicate", str(predicate), "--overwrite", *map(str, files)), files)

    def attest_wheels(self, wheels: Sequence[Path]) -> None:
        """Run `pypi-attestations sign` over the wheels."""
        self._run((sys.executable, "-m", "pypi_attestations", "sign", *map(str, wheels)), wheels)


class SigstoreSigner:
    """Signs through a KeylessSigner: a provenance attestation per file, PEP 740 per wheel."""

    backend = "sigstore"

    def __init__(self, keyless: KeylessSigner, predicate: Path) -> None:
        self.keyless = keyless
        self.predicate = predicate

    def sign(self, files: Sequence[Path]) -> None:
        """Write <file>.sigstore.json beside each file, and <wheel>.publish.attestation."""
        self.keyless.attest(files, self.predicate)
        wheels = [f for f in files if f.name.endswith(".whl")]
        if wheels:
            self.keyless.attest_wheels(wheels)


class SigstoreChecker:
    """Verifies bundles offline against sigstore's embedded trust root and the configured signer."""

    backend = "sigstore"

    def __init__(self, config: SigstoreConfig) -> None:
        require_libraries()
        self.config = config
        self._verifier: Verifier | None = None

    def _policy(self) -> VerificationPolicy:
        from sigstore.verify import policy  # noqa: PLC0415 - an optional, slow import

        if self.config.repository is not None:
            return policy.AllOf(
                [
                    policy.OIDCIssuerV2(self.config.issuer),
                    policy.OIDCSourceRepositoryURI(f"https://github.com/{self.config.repository}"),
                ]
            )
        assert self.config.identity is not None  # noqa: S101 - config requires one of the two
        return policy.Identity(identity=self.config.identity, issuer=self.config.issuer)

    def verify(self, file: Path, signature: Path) -> str | None:
        """Return why the bundle or attestation does not verify for this file, or None."""
        import pydantic  # noqa: PLC0415
        import pypi_attestations  # noqa: PLC0415
        import sigstore.errors  # noqa: PLC0415

        try:
            if signature.name.endswith(ATTESTATION_SUFFIX):
                return self._verify_attestation(file, signature)
            return self._verify_bundle(file, signature)
        except (
            sigstore.errors.Error,
            pypi_attestations.AttestationError,
            pydantic.ValidationError,
            ValueError,
            KeyError,
            TypeError,
        ) as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__

    def _production_verifier(self) -> Verifier:
        from sigstore.verify import Verifier  # noqa: PLC0415

        if self._verifier is None:
            # Offline: the trust root shipped with sigstore-python, no TUF refresh, no network.
            self._verifier = Verifier.production(offline=True)
        return self._verifier

    def _verify_attestation(self, file: Path, signature: Path) -> str | None:
        from pypi_attestations import Attestation, Distribution  # noqa: PLC0415

        attestation = Attestation.model_validate_json(signature.read_bytes())
        dist = Distribution(name=file.name, digest=sha256_file(file))
        attestation.verify(self._policy(), dist, offline=True)
        return None

    def _verify_bundle(self, file: Path, signature: Path) -> str | None:
        from sigstore.hashes import Hashed  # noqa: PLC0415
        from sigstore.models import Bundle  # noqa: PLC0415
        from sigstore_models.common.v1 import HashAlgorithm  # noqa: PLC0415

        raw = signature.read_bytes()
        bundle = Bundle.from_json(raw)
        digest = sha256_file(file)
        if "dsseEnvelope" not in json.loads(raw):
            hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(digest))
            self._production_verifier().verify_artifact(hashed, bundle, self._policy())
            return None
        payload_type, payload = self._production_verifier().verify_dsse(bundle, self._policy())
        if payload_type != IN_TOTO_PAYLOAD:
            return f"the bundle signs a {payload_type}, not an in-toto statement"
        subjects = json.loads(payload)["subject"]
        if not any(
            s.get("name") == file.name and s.get("digest", {}).get("sha256") == digest
            for s in subjects
        ):
            return f"the signed statement has no subject {file.name} with sha256 {digest}"
        return None
