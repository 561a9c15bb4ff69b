"""A signing backend added from one file: plan, doctor, keygen, sign, verify and workflows use it.

tests/backends/openssl_ed25519.py is written as docs/architecture.md's recipe says, and only
registered here; castoff itself is not changed. Real openssl signs and checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from castoff.cli import main
from castoff.errors import ConfigError, VerifyError
from castoff.plan import plan_schema
from castoff.sign import registry
from tests.backends import openssl_ed25519
from tests.backends.openssl_ed25519 import NAME, SUFFIX
from tests.conftest import BUILT_HERE, HERE
from tests.integration.conftest import project_with_sign_table

TABLE = f"""[tool.castoff.sign]
backends = ["{NAME}"]

[tool.castoff.sign.{NAME}]
secret-key-env = "T_ED25519_KEY"
public-key = "{{keys}}/ed25519.pub.pem"
"""


@pytest.fixture
def registered() -> Iterator[None]:
    """Register the one-file backend for this test only."""
    registry.register(openssl_ed25519.BACKEND)
    try:
        yield
    finally:
        registry.unregister(NAME)


class Castoff:
    """castoff's main() in this process (where the backend is registered), output captured."""

    def __init__(self, capsys: pytest.CaptureFixture[str], config: Path) -> None:
        self.capsys = capsys
        self.config = str(config)

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Run a command with --config; return its exit code, stdout and stderr."""
        argv = [*args[:1], "--config", self.config, *args[1:]]
        if args[:1] == ("ci",):
            argv = [*args[:2], "--config", self.config, *args[2:]]
        code = main(argv, env={**os.environ, **(env or {})})
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """Run a command with --json, which must succeed; return its document."""
        code, out, err = self(*args, "--json", env=env)
        assert code == 0, err
        return json.loads(out)


@pytest.mark.usefixtures("registered", "first_build")
def test_a_backend_from_one_file_goes_through_every_stage(
    out_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Plan, doctor, keygen, sign, verify and the workflows take up a backend castoff lacks."""
    keys = tmp_path / "keys"
    castoff = Castoff(
        capsys, project_with_sign_table(tmp_path / "project", TABLE.format(keys=keys))
    )

    plan = castoff.json("plan")
    jsonschema.validate(plan, plan_schema())
    signed = {a["name"]: a["signatures"] for a in plan["artifacts"] if a["signatures"]}
    assert signed["SHA256SUMS"] == [{"backend": NAME, "name": "SHA256SUMS" + SUFFIX}]
    wheels = [a["name"] for a in plan["artifacts"] if a["kind"] == "wheel"]
    assert wheels
    assert all(signed[w] == [{"backend": NAME, "name": w + SUFFIX}] for w in wheels)

    doctor = castoff.json("doctor")
    assert doctor["signing"] == [
        {
            "backend": NAME,
            "command": "openssl",
            "found": shutil.which("openssl"),
            "install": "apt-get install openssl",
        }
    ]

    assert castoff.json("keygen", str(keys))["backends"] == [NAME]
    dist = tmp_path / "dist"
    assert castoff("assemble", *HERE, str(out_dir), "--out", str(dist))[0] == 0
    # Signed as in CI: the secret key in the variable the config names.
    secret = (keys / "ed25519.pem").read_text()
    code, out, err = castoff("sign", str(dist), "--json", env={"T_ED25519_KEY": secret})
    assert code == 0, err
    assert not any(line in out + err for line in secret.splitlines() if len(line) > 16)
    names = {s["name"] for s in json.loads(out)["signatures"]}
    # The wheels built here: MSVC's come from Windows runners.
    here = {
        a["name"] for a in plan["artifacts"] if a["kind"] == "wheel" and a["target"] in BUILT_HERE
    }
    assert 0 < len(here) < len(wheels)
    assert {w + SUFFIX for w in here} | {"SHA256SUMS" + SUFFIX} <= names
    # The signatures are openssl's own: openssl checks them without castoff.
    sums = dist / "SHA256SUMS"
    public = keys / "ed25519.pub.pem"
    check = ["openssl", "pkeyutl", "-verify", "-pubin", "-rawin", "-inkey", str(public)]
    check += ["-in", str(sums), "-sigfile", f"{sums}{SUFFIX}"]
    subprocess.run(check, check=True, capture_output=True)

    verified = castoff.json("verify", str(dist))
    assert verified["backends"] == [NAME]
    assert verified["problems"] == []
    # Another file's signature in a wheel's place is caught, and named.
    shutil.copy(dist / f"SHA256SUMS{SUFFIX}", dist / (wheels[0] + SUFFIX))
    code, _, err = castoff("verify", str(dist))
    assert code == VerifyError.exit_code
    assert wheels[0] + SUFFIX in err.replace("\n", "")

    workflows = tmp_path / "workflows"
    assert castoff("ci", "generate", "--workflows", str(workflows))[0] == 0
    release = (workflows / "release.yml").read_text()
    assert "T_ED25519_KEY: ${{ secrets.T_ED25519_KEY }}" in release


def test_an_unregistered_backend_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without registration, the same config names a backend castoff does not know."""
    castoff = Castoff(capsys, project_with_sign_table(tmp_path / "p", TABLE.format(keys=tmp_path)))
    code, _, err = castoff("plan")
    assert code == ConfigError.exit_code
    assert NAME in err
    assert "tool.castoff.sign.backends" in err
