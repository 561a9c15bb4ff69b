from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from castoff.config import Config, load
from castoff.errors import SignError, UsageError
from castoff.manifest import Field, ReleaseManifest
from castoff.plan import build_plan, signatures_for
from castoff.runner import Command, Runner
from castoff.sign import gpg, registry
from castoff.sign import provenance as prov
from castoff.sign.keys import Secret
from castoff.sign.signing import choose_backends, configured_keys, folder_keys
from castoff.sign.sigstore import AmbientSigstore, SigstoreSigner
from castoff.sign.ssh import SshKeys


@pytest.fixture
def config(example_pyproject: Path) -> Config:
    """Return the example's config."""
    return load(example_pyproject)


def _entry(name: str, kind: str, digest: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "target": None,
        "sha256": digest * 32,
        "size": 1,
        "destinations": ["github"],
        "excluded": [],
        "alias_of": None,
        "platform_tags": [],
        "signatures": [],
    }


def _with_sign(config: Config, **changes: Any) -> Config:
    return dataclasses.replace(config, sign=dataclasses.replace(config.sign, **changes))


MANIFEST = ReleaseManifest.parse(
    Field(
        {
            "schema_version": 1,
            "kind": "release",
            "name": "castoff-hello",
            "version": "0.1.0",
            "artifacts": [
                _entry("hello-x86_64-unknown-linux-gnu.tar.gz", "archive", "aa"),
                _entry("SHA256SUMS", "checksum", "bb"),
                _entry("castoff_hello-0.1.0.intoto.json", "provenance", "cc"),
            ],
            "builds": [
                {
                    "target": "x86_64-unknown-linux-gnu",
                    "method": "docker",
                    "std": "prebuilt",
                    "source_commit": "0123abcd" * 5,
                    "source_tree_sha256": "dd" * 32,
                    "image": "ghcr.io/rust-cross/manylinux2014-cross@sha256:" + "ee" * 32,
                    "toolchain": {"maturin": "1.16.0"},
                    "commands": [
                        {"argv": ["maturin", "build"], "env": {}, "cwd": None, "seconds": 1.0}
                    ],
                    "smoke": [],
                    "cache_key": "ff" * 32,
                }
            ],
        },
        "",
        "test manifest",
    )
)


def test_provenance_subjects_are_the_artifacts_and_dependencies_the_builds() -> None:
    """Subjects: every artifact but the statement itself; source commit and image by digest."""
    statement = prov.statement(MANIFEST, {})
    github = {"destinations": ["github"]}
    assert statement["subject"] == [
        {
            "name": "hello-x86_64-unknown-linux-gnu.tar.gz",
            "digest": {"sha256": "aa" * 32},
            "annotations": github,
        },
        {"name": "SHA256SUMS", "digest": {"sha256": "bb" * 32}, "annotations": github},
    ]
    definition = statement["predicate"]["buildDefinition"]
    assert definition["resolvedDependencies"] == [
        {
            "name": "source",
            "digest": {"gitCommit": "0123abcd" * 5},
            "annotations": {"source_tree_sha256": "dd" * 32},
        },
        {"uri": "docker://ghcr.io/rust-cross/manylinux2014-cross", "digest": {"sha256": "ee" * 32}},
    ]
    byproduct = statement["predicate"]["runDetails"]["byproducts"][0]
    assert byproduct["name"] == "build/x86_64-unknown-linux-gnu"
    assert byproduct["annotations"]["commands"][0]["argv"] == ["maturin", "build"]
    # The same release gives the same bytes.
    assert prov.to_text(statement) == prov.to_text(prov.statement(MANIFEST, {}))


def test_provenance_names_the_github_workflow_run_as_builder() -> None:
    """In GitHub Actions the builder is the workflow and the invocation is the run."""
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": "castoff-dev/hello",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_WORKFLOW_REF": "castoff-dev/hello/.github/workflows/release.yml@refs/tags/v0.1.0",
        "GITHUB_RUN_ID": "42",
        "GITHUB_RUN_ATTEMPT": "2",
    }
    run = prov.statement(MANIFEST, env)["predicate"]["runDetails"]
    assert run["builder"]["id"] == (
        "https://github.com/castoff-dev/hello/.github/workflows/release.yml@refs/tags/v0.1.0"
    )
    assert run["metadata"]["invocationId"] == (
        "https://github.com/castoff-dev/hello/actions/runs/42/attempts/2"
    )
    source = prov.statement(MANIFEST, env)["predicate"]["buildDefinition"]["resolvedDependencies"]
    assert source[0]["uri"] == "git+https://github.com/castoff-dev/hello@" + "0123abcd" * 5


def test_sidecars_are_not_signed_and_sigstore_adds_pep740_for_wheels(config: Config) -> None:
    """SHA256SUMS, archives and wheels are signed; a wheel also gets its PEP 740 attestation."""
    assert signatures_for(config, "x.tar.gz.sha256", "checksum") == ()
    assert [s.name for s in signatures_for(config, "SHA256SUMS", "checksum")] == [
        "SHA256SUMS.minisig",
        "SHA256SUMS.sig",
    ]
    keyless = _with_sign(config, backends=("sigstore",))
    assert [s.name for s in signatures_for(keyless, "a.whl", "wheel")] == [
        "a.whl.sigstore.json",
        "a.whl.publish.attestation",
    ]
    assert [s.name for s in signatures_for(keyless, "a.tar.gz", "archive")] == [
        "a.tar.gz.sigstore.json"
    ]


def test_the_plan_lists_the_signed_provenance_for_github_only(config: Config) -> None:
    """The provenance statement is part of the plan: signed, for the GitHub release."""
    provenance = [a for a in build_plan(config).artifacts if a.kind == "provenance"]
    assert len(provenance) == 1
    assert provenance[0].name == "castoff_hello-0.1.0.intoto.json"
    assert provenance[0].destinations == ("github",)
    assert [e.destination for e in provenance[0].excluded] == ["pypi"]
    assert len(provenance[0].signatures) == 2


def test_a_missing_secret_variable_is_named_with_its_config_key(config: Config) -> None:
    """The error names the variable and the key path, and says how to make throwaway keys."""
    with pytest.raises(SignError) as caught:
        configured_keys(config.sign, "minisign", {}, secret=True)
    assert "CASTOFF_MINISIGN_KEY" in caught.value.message
    assert "tool.castoff.sign.minisign" in caught.value.message
    assert "castoff keygen" in (caught.value.hint or "")


def test_verifying_needs_no_secret(config: Config) -> None:
    """Public material only: no environment variable is read for a checker's keys."""
    keys = configured_keys(config.sign, "ssh", {}, secret=False)
    assert isinstance(keys, SshKeys)
    assert keys.key is None
    assert keys.identity == "release@castoff.invalid"


def test_a_keys_folder_without_keys_json_says_how_to_make_one(tmp_path: Path) -> None:
    """--keys with a folder keygen did not write is a clear error."""
    with pytest.raises(SignError) as caught:
        folder_keys(tmp_path, "ssh", secret=False)
    assert "keys.json: not a castoff key folder" in caught.value.message
    assert "castoff keygen" in (caught.value.hint or "")


def test_secrets_to_redact_include_each_line_of_a_key() -> None:
    """A key file's lines are redacted one by one too: a tool may echo a line it cannot parse."""
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAABBBBCCCCDDDDEEEE\nshort\n"
    keys = SshKeys(
        key=Secret(value=key, source="environment variable K"),
        allowed_signers=Path("a"),
        identity="i",
        namespace="file",
    )
    found = registry.get("ssh").secrets(keys)
    assert key in found
    assert "AAAABBBBCCCCDDDDEEEE" in found
    assert "short" not in found
    assert "AAAABBBB" not in repr(keys)


def test_a_passphrase_on_stdin_is_never_displayed() -> None:
    """A command's standard-input text shows as *** in logs and dry runs."""
    command = Command(argv=("gpg", "--passphrase-fd", "0"), input_text="hunter2\n")
    assert command.display() == "gpg --passphrase-fd 0 <<< ***"
    assert "hunter2" not in repr(command)
    assert Command(argv=("ssh-keygen",), stdin_path=Path("a b")).display() == "ssh-keygen < 'a b'"


def test_backends_must_be_configured(config: Config) -> None:
    """--backend names a configured backend; an empty backends list cannot sign."""
    assert choose_backends(config, ()) == ("minisign", "ssh")
    assert choose_backends(config, ("ssh",)) == ("ssh",)
    with pytest.raises(UsageError, match="is not configured"):
        choose_backends(config, ("gpg",))
    with pytest.raises(UsageError, match="is not a backend"):
        choose_backends(config, ("cosign",))
    with pytest.raises(SignError, match="backends is empty"):
        choose_backends(_with_sign(config, backends=()), ())


def test_gpg_public_keys_are_dearmored_for_gpgv(tmp_path: Path) -> None:
    """An armored key (headers, checksum line) becomes the binary packets gpgv reads."""
    packets = bytes(range(256)) * 3
    body = base64.b64encode(packets).decode()
    armored = "\n".join(
        [
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "Comment: made by a test",
            "",
            *(body[i : i + 64] for i in range(0, len(body), 64)),
            "=abcd",
            "-----END PGP PUBLIC KEY BLOCK-----",
        ]
    )
    key = tmp_path / "key.asc"
    key.write_text(armored)
    assert gpg.dearmor(key) == packets
    key.write_text("not a key")
    with pytest.raises(SignError, match="not an ASCII-armored gpg public key"):
        gpg.dearmor(key)


class _Echo:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


def test_ambient_sigstore_refuses_outside_github_actions(tmp_path: Path) -> None:
    """Keyless signing needs the job's OIDC token; elsewhere the error says what to do."""
    runner = Runner(base_env={}, echo=_Echo(), dry_run=True)
    signer = SigstoreSigner(AmbientSigstore(runner, {}), tmp_path / "predicate.json")
    with pytest.raises(SignError) as caught:
        signer.sign([tmp_path / "a.tar.gz"])
    assert "ACTIONS_ID_TOKEN_REQUEST_URL is not set" in caught.value.message
    assert "id-token: write" in (caught.value.hint or "")


def test_ambient_sigstore_commands_in_a_faked_github_actions_environment(tmp_path: Path) -> None:
    """FAKED GitHub Actions environment, dry run: the exact sigstore commands castoff would run."""
    echo = _Echo()
    runner = Runner(base_env={}, echo=echo, dry_run=True)
    env = {"ACTIONS_ID_TOKEN_REQUEST_URL": "https://example.invalid/token"}
    predicate = tmp_path / "predicate.json"
    signer = SigstoreSigner(AmbientSigstore(runner, env), predicate)
    signer.sign([tmp_path / "a.whl", tmp_path / "b.tar.gz"])
    assert len(echo.lines) == 2
    assert echo.lines[0].endswith(
        f"-m sigstore attest --predicate-type https://slsa.dev/provenance/v1 --predicate "
        f"{predicate} --overwrite {tmp_path / 'a.whl'} {tmp_path / 'b.tar.gz'}"
    )
    assert echo.lines[1].endswith(f"-m pypi_attestations sign {tmp_path / 'a.whl'}")


def test_throwaway_keys_skip_keyless_backends_and_say_so(example_pyproject: Path) -> None:
    """--keys (a pull request's rehearsal): sigstore has no workflow identity there; skipped."""
    import tomllib  # noqa: PLC0415

    from castoff.config import resolve  # noqa: PLC0415
    from castoff.release import keyed_backends  # noqa: PLC0415

    document = tomllib.loads(example_pyproject.read_text())
    sign = document["tool"]["castoff"]["sign"]
    sign["backends"] = ["sigstore", "minisign", "ssh"]
    sign["sigstore"] = {"repository": "castoff-dev/hello"}
    config = resolve(document, pyproject=example_pyproject)
    said: list[str] = []
    # A release: every backend signs.
    assert keyed_backends(config, None, said.append, uploads=True) is None
    assert said == []
    assert keyed_backends(config, Path("keys"), said.append, uploads=False) == ("minisign", "ssh")
    assert said[0].startswith("sigstore: skipped, as keyless signing needs")
    sign["backends"] = ["sigstore"]
    del sign["minisign"], sign["ssh"]
    only_keyless = resolve(document, pyproject=example_pyproject)
    assert keyed_backends(only_keyless, Path("keys"), said.append, uploads=False) == ()
    # A release that uploads never skips a configured backend.
    with pytest.raises(UsageError, match="--keys: sigstore"):
        keyed_backends(config, Path("keys"), said.append, uploads=True)
