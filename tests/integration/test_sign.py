"""castoff sign and verify on a real release folder, with real gpg, minisign and ssh-keygen."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE, REPO
from tests.integration.conftest import castoff as run
from tests.integration.conftest import project_with_sign_table

KEY_BACKENDS = ("gpg", "minisign", "ssh")
SUFFIXES = {"gpg": ".asc", "minisign": ".minisig", "ssh": ".sig"}


KEYS_TABLE = """[tool.castoff.sign]
backends = ["gpg", "minisign", "ssh"]

[tool.castoff.sign.gpg]
key-id = "{key_id}"
passphrase-env = "T_GPG_PASSPHRASE"
public-key = "{keys}/gpg.asc"

[tool.castoff.sign.minisign]
secret-key-env = "T_MINISIGN_KEY"
password-env = "T_MINISIGN_PASSWORD"
public-key = "{keys}/minisign.pub"

[tool.castoff.sign.ssh]
key-env = "T_SSH_KEY"
allowed-signers = "{keys}/allowed_signers"
identity = "release@castoff.invalid"
"""


class Keys:
    """Throwaway keys for the three key backends, made by `castoff keygen`."""

    def __init__(self, root: Path) -> None:
        self.folder = root / "keys"
        placeholder = project_with_sign_table(
            root / "keygen", KEYS_TABLE.format(key_id="pending", keys=self.folder)
        )
        result = run("keygen", "--config", str(placeholder), str(self.folder), "--json")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["backends"] == sorted(KEY_BACKENDS)
        entries = json.loads((self.folder / "keys.json").read_text())
        self.key_id: str = entries["gpg"]["key_id"]
        self.config = project_with_sign_table(
            root / "project", KEYS_TABLE.format(key_id=self.key_id, keys=self.folder)
        )
        # The configured form: every secret in an environment variable, as in CI.
        self.env = {
            "GNUPGHOME": str(self.folder / "gnupg"),
            "T_GPG_PASSPHRASE": (self.folder / "gpg.passphrase").read_text(),
            "T_MINISIGN_KEY": (self.folder / "minisign.key").read_text(),
            "T_MINISIGN_PASSWORD": (self.folder / "minisign.password").read_text(),
            "T_SSH_KEY": (self.folder / "ssh_key").read_text(),
        }

    def secrets(self) -> list[str]:
        """Return each secret, and each line of the secret key files, to search outputs for."""
        found = []
        for name in ("T_GPG_PASSPHRASE", "T_MINISIGN_PASSWORD", "T_MINISIGN_KEY", "T_SSH_KEY"):
            value = self.env[name]
            found.append(value.strip())
            found += [line for line in value.splitlines() if len(line) > 16]
        return found

    def stop_agent(self) -> None:
        """Stop the throwaway keyring's gpg-agent (it caches the passphrase)."""
        subprocess.run(
            ["gpgconf", "--homedir", str(self.folder / "gnupg"), "--kill", "gpg-agent"],
            check=False,
        )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    """Make throwaway gpg, minisign and ssh keys once for this module."""
    made = Keys(tmp_path_factory.mktemp("signing"))
    yield made
    made.stop_agent()


@pytest.fixture
def release(dist: Path, tmp_path: Path) -> Path:
    """Return a private copy of the assembled example release."""
    return Path(shutil.copytree(dist, tmp_path / "dist"))


@pytest.fixture(scope="module")
def signed(dist: Path, keys: Keys, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Sign a copy of the release with the three key backends (secrets from the environment)."""
    folder = Path(shutil.copytree(dist, tmp_path_factory.mktemp("signed") / "dist"))
    result = run("sign", "--config", str(keys.config), str(folder), "--json", env=keys.env)
    assert result.returncode == 0, result.stderr
    return folder


def _manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return data


def _sha256(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def test_sign_writes_every_signature_and_lists_it_in_the_manifest(signed: Path) -> None:
    """Each wheel, archive, the sdist, SHA256SUMS and the provenance: one signature per backend."""
    manifest = _manifest(signed)
    signed_kinds = {"wheel", "archive", "provenance", "sdist"}
    for artifact in manifest["artifacts"]:
        needs = artifact["kind"] in signed_kinds or artifact["name"] == "SHA256SUMS"
        expected = [artifact["name"] + SUFFIXES[b] for b in KEY_BACKENDS] if needs else []
        assert [s["name"] for s in artifact["signatures"]] == expected, artifact["name"]
        for entry in artifact["signatures"]:
            assert entry["sha256"] == _sha256(signed / entry["name"])
    wheels = [a for a in manifest["artifacts"] if a["kind"] == "wheel"]
    assert len(wheels) == 16  # every target's, loongarch64's too (GitHub only)
    # Sidecars repeat SHA256SUMS lines and are not signed on their own.
    assert not any(p.name.endswith(".sha256.asc") for p in signed.iterdir())


def test_each_signature_checks_out_with_the_tools_own_verifiers(signed: Path, keys: Keys) -> None:
    """The files castoff writes are ordinary signatures: gpgv, minisign and ssh-keygen agree."""
    sums = signed / "SHA256SUMS"
    keyring = signed.parent / "public.gpg"
    keyring.write_bytes(
        subprocess.run(
            ["gpg", "--dearmor"],
            input=(keys.folder / "gpg.asc").read_bytes(),
            capture_output=True,
            check=True,
        ).stdout
    )
    subprocess.run(
        ["gpgv", "--keyring", str(keyring), f"{sums}.asc", str(sums)],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["minisign", "-V", "-p", str(keys.folder / "minisign.pub"), "-m", str(sums)],
        check=True,
        capture_output=True,
    )
    with sums.open("rb") as stdin:
        subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                str(keys.folder / "allowed_signers"),
                "-I",
                "release@castoff.invalid",
                "-n",
                "file",
                "-s",
                f"{sums}.sig",
            ],
            stdin=stdin,
            check=True,
            capture_output=True,
        )
    # And refuses the signature for other bytes.
    other = signed.parent / "other"
    other.write_text("not SHA256SUMS\n")
    public = str(keys.folder / "minisign.pub")
    refused = subprocess.run(
        ["minisign", "-V", "-p", public, "-m", str(other), "-x", f"{sums}.minisig"],
        capture_output=True,
        check=False,
    )
    assert refused.returncode != 0


def test_verify_passes_with_public_material_only(signed: Path, keys: Keys, tmp_path: Path) -> None:
    """Castoff verify needs no secret: a folder with only the public keys is enough."""
    public = tmp_path / "public"
    public.mkdir()
    for name in ("gpg.asc", "minisign.pub", "allowed_signers"):
        shutil.copy(keys.folder / name, public / name)
    config = project_with_sign_table(
        tmp_path / "p", KEYS_TABLE.format(key_id=keys.key_id, keys=public)
    )
    result = run(
        "verify", "--config", str(config), str(signed), "--json", env={"HOME": "/nonexistent"}
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["problems"] == []
    assert doc["backends"] == list(KEY_BACKENDS)
    assert sum(len(a["signatures"]) for a in doc["artifacts"]) == 3 * 40


def test_provenance_names_every_artifact_and_how_each_target_was_built(signed: Path) -> None:
    """The statement's subjects are all artifacts with sha256; builds come from the manifests."""
    manifest = _manifest(signed)
    statement = json.loads((signed / manifest["provenance"]).read_text())
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    subjects = {s["name"]: s["digest"]["sha256"] for s in statement["subject"]}
    artifacts = [a for a in manifest["artifacts"] if a["kind"] != "provenance"]
    assert subjects == {a["name"]: _sha256(signed / a["name"]) for a in artifacts}
    predicate = statement["predicate"]
    byproducts = {b["name"]: b["annotations"] for b in predicate["runDetails"]["byproducts"]}
    assert set(byproducts) == {f"build/{b['target']}" for b in manifest["builds"]}
    musl = byproducts["build/aarch64-unknown-linux-musl"]
    assert musl["commands"][0]["argv"][1] == "build"  # maturin build, exactly as run
    assert musl["toolchain"]["maturin"]
    commits = {b["source_commit"] for b in manifest["builds"]}
    sources = [
        d for d in predicate["buildDefinition"]["resolvedDependencies"] if d["name"] == "source"
    ]
    assert {d["digest"].get("gitCommit") for d in sources} == commits


def test_a_flipped_byte_fails_verify_naming_the_artifact(
    signed: Path, keys: Keys, tmp_path: Path
) -> None:
    """One changed byte in one archive: verify fails, naming that archive for each check."""
    folder = Path(shutil.copytree(signed, tmp_path / "dist"))
    victim = folder / "hello-s390x-unknown-linux-gnu.tar.gz"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(data)
    result = run("verify", "--config", str(keys.config), str(folder), "--json")
    assert result.returncode == 11, result.stderr
    problems = json.loads(result.stdout)["problems"]
    assert {p["artifact"] for p in problems} == {victim.name}
    # The hash check and each backend's signature check all name it.
    assert {p["backend"] for p in problems} == {None, *KEY_BACKENDS}
    assert victim.name in result.stderr


def test_a_removed_signature_fails_verify_naming_it(
    signed: Path, keys: Keys, tmp_path: Path
) -> None:
    """A missing detached signature is named, with its backend and its artifact."""
    folder = Path(shutil.copytree(signed, tmp_path / "dist"))
    (folder / "SHA256SUMS.minisig").unlink()
    result = run("verify", "--config", str(keys.config), str(folder), "--json")
    assert result.returncode == 11
    problems = json.loads(result.stdout)["problems"]
    assert problems == [
        {
            "artifact": "SHA256SUMS",
            "backend": "minisign",
            "file": "SHA256SUMS.minisig",
            "problem": "missing",
        }
    ]
    assert "minisign signature SHA256SUMS.minisig: missing" in result.stderr


def test_sign_with_throwaway_keys_folder_and_one_backend(release: Path, keys: Keys) -> None:
    """--keys takes every key from a keygen folder; --backend signs with one backend only."""
    with_keys = ("sign", "--config", str(keys.config), str(release), "--keys", str(keys.folder))
    result = run(*with_keys, "--backend", "ssh")
    assert result.returncode == 0, result.stderr
    assert (release / "SHA256SUMS.sig").is_file()
    assert not (release / "SHA256SUMS.minisig").exists()
    ssh_only = run("verify", "--config", str(keys.config), str(release), "--backend", "ssh")
    assert ssh_only.returncode == 0, ssh_only.stderr
    everything = run("verify", "--config", str(keys.config), str(release), "--json")
    assert everything.returncode == 11  # gpg and minisign signatures are missing
    missing = {p["backend"] for p in json.loads(everything.stdout)["problems"]}
    assert missing == {"gpg", "minisign"}
    # A second backend later (as a separate job would) keeps the first one's signatures.
    again = run(*with_keys, "--backend", "minisign")
    assert again.returncode == 0, again.stderr
    both = ("--backend", "ssh", "--backend", "minisign")
    assert run("verify", "--config", str(keys.config), str(release), *both).returncode == 0
    provenance = next(a for a in _manifest(release)["artifacts"] if a["kind"] == "provenance")
    assert {s["backend"] for s in provenance["signatures"]} == {"ssh", "minisign"}


def _listing(folder: Path) -> dict[str, str]:
    return {p.name: _sha256(p) for p in sorted(folder.iterdir())}


def test_secrets_never_appear_in_output_or_files_even_when_signing_fails(
    release: Path, keys: Keys
) -> None:
    """Every output and every file castoff writes is searched for each secret, on all paths."""
    config = str(keys.config)
    before = _listing(release)
    outputs: list[str] = []

    def attempt(env: Mapping[str, str], *args: str, expect: int) -> None:
        keys.stop_agent()  # so a wrong passphrase is really asked for
        # --json adds the error document to the paragraph; --debug adds the traceback.
        result = run("--debug", *args, "--json", env={**keys.env, **env})
        assert result.returncode == expect, (list(env), result.stderr[-2000:])
        outputs.extend((result.stdout, result.stderr))

    # Failures first: each leaves the release folder exactly as it was.
    attempt(
        {"T_MINISIGN_PASSWORD": "not-the-password"},
        "sign",
        "--config",
        config,
        str(release),
        expect=10,
    )
    attempt(
        {"T_GPG_PASSPHRASE": "not-the-passphrase"},
        "sign",
        "--config",
        config,
        str(release),
        expect=10,
    )
    lines = keys.env["T_SSH_KEY"].splitlines()
    broken = "\n".join(lines[:2] + lines[3:]) + "\n"  # one line of the key lost in a paste
    attempt({"T_SSH_KEY": broken}, "sign", "--config", config, str(release), expect=10)
    attempt({"T_SSH_KEY": ""}, "sign", "--config", config, str(release), expect=10)
    assert _listing(release) == before
    # Then success, a verification failure, and a refusal to sign changed bytes.
    attempt({}, "sign", "--config", config, str(release), expect=0)
    (release / "SHA256SUMS").write_text("changed\n")
    attempt({}, "verify", "--config", config, str(release), expect=11)
    attempt({}, "sign", "--config", config, str(release), expect=11)

    files = [
        p.read_bytes().decode("utf-8", "replace") for p in release.iterdir() if p.suffix != ".whl"
    ]
    haystack = "\n".join(outputs + files)
    # The outputs are really there to search.
    assert "minisign" in haystack
    assert "gpg" in haystack
    for secret in keys.secrets():
        assert secret not in haystack
    # A failing tool's own message is shown (redacted), naming what went wrong.
    assert "Wrong password" in "\n".join(outputs)


def test_a_missing_secret_is_named_by_its_variable_and_nothing_is_signed(
    release: Path, keys: Keys
) -> None:
    """With a secret's variable unset, sign stops before signing anything and names it."""
    env = {k: v for k, v in keys.env.items() if k != "T_MINISIGN_KEY"}
    before = _listing(release)
    result = run("sign", "--config", str(keys.config), str(release), env=env)
    assert result.returncode == 10
    assert "T_MINISIGN_KEY" in result.stderr
    assert "tool.castoff.sign.minisign" in result.stderr
    assert _listing(release) == before


def test_sign_refuses_a_release_whose_bytes_changed_after_assembly(
    release: Path, keys: Keys
) -> None:
    """Castoff signs only what it assembled: a changed wheel is named and nothing is signed."""
    wheel = next(release.glob("*x86_64.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    result = run("sign", "--config", str(keys.config), str(release), env=keys.env)
    assert result.returncode == 11
    assert wheel.name in result.stderr
    assert not list(release.glob("*.asc"))


def test_invoke_sign_and_verify_tasks_with_throwaway_keys_on_the_example(
    release: Path, tmp_path: Path
) -> None:
    """`inv sign` and `inv verify` on the example's own config, with keys from castoff keygen."""
    folder = tmp_path / "keys"
    made = run("keygen", "--config", str(EXAMPLE / "pyproject.toml"), str(folder))
    assert made.returncode == 0, made.stderr
    inv = shutil.which("inv")
    assert inv is not None
    for task in ("sign", "verify"):
        result = subprocess.run(
            [inv, task, "--dist", str(release), "--keys", str(folder)],
            capture_output=True,
            text=True,
            check=False,
            cwd=REPO,
        )
        assert result.returncode == 0, result.stderr
    assert (release / "SHA256SUMS.minisig").is_file()
    assert (release / "castoff_hello-0.1.0.intoto.json.sig").is_file()
    # The example's own public keys are not committed: without --keys, verify says so.
    plain = subprocess.run(
        [inv, "verify", "--dist", str(release)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert plain.returncode == 11
    assert "tool.castoff.sign.minisign names" in plain.stderr
    assert "keys/minisign.pub as the minisign public key, and there is no such file" in " ".join(
        plain.stderr.split()
    )


def test_gpg_signs_with_a_secret_key_from_a_variable_as_in_ci(
    dist: Path, keys: Keys, tmp_path: Path
) -> None:
    """private-key-env: the key is imported into a keyring of its own; ~/.gnupg stays empty."""
    exported = subprocess.run(
        ["gpg", "--batch", "--homedir", str(keys.folder / "gnupg"), "--pinentry-mode",
         "loopback", "--passphrase-fd", "0", "--armor", "--export-secret-keys", keys.key_id],
        input=keys.env["T_GPG_PASSPHRASE"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    table = KEYS_TABLE.format(key_id=keys.key_id, keys=keys.folder).replace(
        'passphrase-env = "T_GPG_PASSPHRASE"',
        'passphrase-env = "T_GPG_PASSPHRASE"\nprivate-key-env = "T_GPG_KEY"',
    )
    config = project_with_sign_table(tmp_path / "project", table)
    empty_home = tmp_path / "gnupg-home"  # a runner's keyring: no key in it
    empty_home.mkdir(mode=0o700)
    env = {**keys.env, "GNUPGHOME": str(empty_home), "T_GPG_KEY": exported}
    folder = Path(shutil.copytree(dist, tmp_path / "dist"))
    result = run("sign", "--config", str(config), str(folder), "--backend", "gpg", env=env)
    assert result.returncode == 0, result.stderr
    assert (folder / "SHA256SUMS.asc").is_file()
    assert list(empty_home.iterdir()) == []  # the secret key never landed in it
    for line in [ln for ln in exported.splitlines() if len(ln) > 16]:
        assert line not in result.stdout + result.stderr
    checked = run("verify", "--config", str(config), str(folder), "--backend", "gpg")
    assert checked.returncode == 0, checked.stderr
    missing = run("sign", "--config", str(config), str(folder), "--backend", "gpg",
                  env={**env, "T_GPG_KEY": ""})  # fmt: skip
    assert missing.returncode != 0
    assert "T_GPG_KEY" in missing.stderr
    assert "Traceback" not in missing.stderr
