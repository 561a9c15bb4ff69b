"""sigstore: keyless signing in GitHub Actions, and offline verification of bundles and PEP 740."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from castoff.build.archive import sha256_file
from castoff.errors import SignError, ToolMissingError
from castoff.manifest import Field
from castoff.pypi import is_sdist_filename
from castoff.runner import Command, CommandFailedError, Runner
from castoff.sign import Checker, Signer, last_line
from castoff.sign.backend import SignContext, Tool
from castoff.sign.keys import Secret, secret_strings
from castoff.tables import SettingsTable

if TYPE_CHECKING:
    from sigstore.verify import Verifier
    from sigstore.verify.policy import VerificationPolicy

SUFFIX = ".sigstore.json"
# What `twine upload --attestations` takes from beside a distribution (PEP 740); sigstore makes it.
ATTESTATION_SUFFIX = ".publish.attestation"
# The name of GitHub Actions' bearer token for requesting an OIDC token (not a secret itself).
OIDC_REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"  # noqa: S105
SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"
IN_TOTO_PAYLOAD = "application/vnd.in-toto+json"
_INSTALL = "pip install 'castoff[sigstore]'"


@dataclass(frozen=True, kw_only=True)
class SigstoreConfig:
    """Who keyless bundles must come from: a GitHub repository's workflows, or one identity."""

    repository: str | None  # owner/name: any workflow of it, on GitHub's OIDC issuer
    identity: str | None  # the certificate's exact subject (SAN)
    issuer: str


@dataclass(frozen=True, kw_only=True)
class SigstoreKeys:
    """Keyless: the signer policy, and (when signing in GitHub Actions) the OIDC request token."""

    policy: SigstoreConfig
    request_token: Secret | None


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

    def attest_dists(self, dists: Sequence[Path]) -> None:
        """Write <dist>.publish.attestation: the PEP 740 attestation twine uploads."""


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

    def attest_dists(self, dists: Sequence[Path]) -> None:
        """Run `pypi-attestations sign` over the wheels and the sdist."""
        self._run((sys.executable, "-m", "pypi_attestations", "sign", *map(str, dists)), dists)


class SigstoreSigner:
    """Signs through a KeylessSigner: a provenance attestation per file, PEP 740 per wheel."""

    backend = "sigstore"

    def __init__(self, keyless: KeylessSigner, predicate: Path) -> None:
        self.keyless = keyless
        self.predicate = predicate

    def sign(self, files: Sequence[Path]) -> None:
        """Write <file>.sigstore.json beside each file, and <dist>.publish.attestation."""
        self.keyless.attest(files, self.predicate)
        # PyPI takes a PEP 740 attestation with each distribution: wheels and the sdist.
        dists = [f for f in files if f.name.endswith(".whl") or is_sdist_filename(f.name)]
        if dists:
            self.keyless.attest_dists(dists)


class SigstoreChecker:
    """Verifies bundles offline against sigstore's embedded trust root and the configured signer."""

    backend = "sigstore"
    concurrent = False  # sigstore's verifier, in this process

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


class SigstoreBackend:
    """sigstore: keyless, with a GitHub Actions job's identity; verified offline."""

    name = "sigstore"
    suffix = SUFFIX
    keyless = True
    tools: tuple[Tool, ...] = (Tool(command="sigstore", module="sigstore", install=_INSTALL),)

    def parse(self, table: SettingsTable) -> SigstoreConfig:
        """Read [tool.castoff.sign.sigstore]."""
        table.check_keys(["repository", "identity", "issuer"])
        repository, identity = table.string("repository"), table.string("identity")
        if (repository is None) == (identity is None):
            table.fail(
                None,
                'needs exactly one of repository ("owner/name": bundles signed by its GitHub '
                "Actions workflows) and identity (a certificate's exact subject).",
            )
        if repository is not None and not re.fullmatch(
            r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository
        ):
            table.fail("repository", f"'{repository}' is not a GitHub repository (owner/name).")
        return SigstoreConfig(
            repository=repository,
            identity=identity,
            issuer=table.string("issuer") or "https://token.actions.githubusercontent.com",
        )

    def signatures(self, name: str, kind: str) -> tuple[str, ...]:
        """Return `<file>.sigstore.json`, and for a wheel or sdist its PEP 740 attestation too."""
        if kind in ("wheel", "sdist"):
            return (name + SUFFIX, name + ATTESTATION_SUFFIX)
        return (name + SUFFIX,)

    def keys(
        self, settings: SigstoreConfig, env: Mapping[str, str], *, secret: bool
    ) -> SigstoreKeys:
        """Return the policy; when signing, the OIDC request token (to redact it)."""
        require_libraries()
        token = env.get(OIDC_REQUEST_TOKEN) if secret else None
        return SigstoreKeys(
            policy=settings,
            request_token=Secret(value=token, source=OIDC_REQUEST_TOKEN) if token else None,
        )

    def folder_keys(self, folder: Path, entry: Field, *, secret: bool) -> SigstoreKeys:
        """Keyless: a key folder has nothing for sigstore."""
        raise SignError(f"{folder}: sigstore signs keylessly; a key folder has no sigstore keys.")

    def public_files(self, keys: SigstoreKeys) -> tuple[Path, ...]:
        """Return the public key files verification reads."""
        return ()

    def secrets(self, keys: SigstoreKeys) -> list[str]:
        """Return the OIDC request token: sigstore's tools read it; their output hides it."""
        return secret_strings([keys.request_token])

    def signer(self, keys: SigstoreKeys, settings: SigstoreConfig, context: SignContext) -> Signer:
        """Return a keyless signer (GitHub Actions' identity, or a test's stand-in)."""
        keyless = context.services.get(self.name)
        if keyless is None:
            keyless = AmbientSigstore(context.runner, context.env)
        return SigstoreSigner(keyless, context.predicate)  # type: ignore[arg-type]

    def checker(
        self, keys: SigstoreKeys, settings: SigstoreConfig, runner: Runner, scratch: Path
    ) -> Checker:
        """Return an offline checker of bundles and attestations against the policy."""
        return SigstoreChecker(keys.policy)

    def throwaway(self, folder: Path, settings: SigstoreConfig, runner: Runner) -> None:
        """Keyless: nothing to make."""
        return

    def ci_secrets(self, settings: SigstoreConfig) -> tuple[str, ...]:
        """Return nothing: the job's id-token permission is the identity."""
        return ()

    def ci_setup(self, settings: SigstoreConfig) -> tuple[str, ...]:
        """Return nothing: castoff's sigstore extra is installed with it."""
        return ()


BACKEND = SigstoreBackend()
