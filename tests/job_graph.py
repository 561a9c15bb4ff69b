"""A small local runner for castoff's generated workflows: the job graph GitHub would run.

Each job runs in a workspace folder of its own; `actions/checkout` copies the repository in,
`upload-artifact` copies a folder out to an artifact store and `download-artifact` copies them
back in (one folder per artifact, as download-artifact v4+ does). `run:` steps run in bash, in
order, with the step's env and $GITHUB_OUTPUT. Expressions are resolved from a fixed table, so an
expression this runner does not know fails the test instead of being guessed.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

_EXPRESSION = re.compile(r"\$\{\{\s*(.+?)\s*\}\}")
# GitHub's x64 Ubuntu labels the generated workflows use.
UBUNTU_LABELS = ("ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04")


class Machine(Protocol):
    """Where a job's steps run: this machine as it is, or a simulated runner."""

    def job(self, folder: Path) -> Path:
        """Make a fresh machine for one job; return its state folder."""

    def environment(self, folder: Path, base: Mapping[str, str]) -> dict[str, str]:
        """Return the environment a step starts with."""

    def argv(self, folder: Path, script: str) -> list[str]:
        """Return the command that runs a step's bash script."""


@dataclass
class JobGraph:
    """Runs one workflow's jobs locally, in dependency order."""

    workflow: dict[Any, Any]
    repository: Path  # what actions/checkout checks out
    root: Path  # workspaces and the artifact store go here
    env: dict[str, str]  # the runner's environment (PATH, FAKE_GH_DIR)
    secrets: dict[str, str]
    # What a job holding `id-token: write` gets, standing in for the OIDC token it could ask
    # for (the index's credentials: trusted publishing); no other job sees them.
    oidc: dict[str, str] = field(default_factory=dict)
    event: str = "push"
    ref: str = "refs/heads/main"  # what triggered the run: a branch, or refs/tags/<tag>
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    # Where jobs on x64 Ubuntu runners run (tests/runner_shape.py); None: this machine as it is.
    ubuntu: Machine | None = None
    # Runners nothing here simulates (windows-latest: MSVC's jobs): their jobs are not run, but
    # listed in `unsimulated` (job name, matrix entry); their commands are checked elsewhere.
    skip_runners: frozenset[str] = frozenset()
    unsimulated: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    # A hosted runner is gone once its job ends: False drops the workspace, temp and machine
    # state of a job whose every step passed (a matrix's virtualenvs and caches are gigabytes
    # per job), so only the artifacts and outputs remain, as on GitHub; a failed job's stay.
    keep_workspaces: bool = True

    @classmethod
    def load(cls, path: Path, **kwargs: Any) -> JobGraph:
        """Read a workflow file."""
        return cls(workflow=yaml.safe_load(path.read_text()), **kwargs)

    def order(self) -> list[str]:
        """Return the jobs in an order that respects `needs`."""
        jobs = self.workflow["jobs"]
        done: list[str] = []
        while len(done) < len(jobs):
            for name, job in jobs.items():
                needs = job.get("needs", [])
                needs = [needs] if isinstance(needs, str) else needs
                if name not in done and all(n in done for n in needs):
                    done.append(name)
        return done

    def expression(self, text: str, matrix: Mapping[str, str], steps: Mapping[str, Any]) -> Any:
        """Resolve one expression of the kinds castoff's workflows use."""
        known: dict[str, Any] = {
            "github.token": "fake-github-token",
            "github.event_name == 'workflow_dispatch' && inputs.dry_run": (
                self.event == "workflow_dispatch" and bool(self.inputs.get("dry_run"))
            ),
        }
        if text in known:
            return known[text]
        if m := re.fullmatch(r"matrix\.([\w-]+)", text):
            return matrix[m[1]]
        if m := re.fullmatch(r"secrets\.(\w+)", text):
            return self.secrets.get(m[1], "")
        if m := re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", text):
            return steps[m[1]][m[2]]
        if m := re.fullmatch(r"fromJson\(needs\.(\w+)\.outputs\.(\w+)\)", text):
            return json.loads(self.outputs[m[1]][m[2]])
        raise AssertionError(f"the local job runner does not know the expression {text!r}")

    def substitute(self, value: Any, matrix: Mapping[str, str], steps: Mapping[str, Any]) -> Any:
        """Resolve the expressions in a value (a whole-expression value keeps its type)."""
        if isinstance(value, str):
            whole = _EXPRESSION.fullmatch(value)
            if whole:
                return self.expression(whole[1], matrix, steps)
            return _EXPRESSION.sub(lambda m: _text(self.expression(m[1], matrix, steps)), value)
        if isinstance(value, dict):
            return {k: self.substitute(v, matrix, steps) for k, v in value.items()}
        return value

    def run(self) -> None:
        """Run every job (every matrix entry of a matrix job) in order."""
        for name in self.order():
            job = self.workflow["jobs"][name]
            matrix = job.get("strategy", {}).get("matrix")
            entries = self.substitute(matrix, {}, {})["include"] if matrix else [{}]
            for number, entry in enumerate(entries):
                self.run_job(name, job, entry, self.root / "jobs" / f"{name}-{number}")

    def run_job(self, name: str, job: dict[str, Any], matrix: dict[str, str], work: Path) -> None:
        """Run one job's steps in its own workspace."""
        runs_on = self.substitute(job["runs-on"], matrix, {})
        if runs_on in self.skip_runners:
            self.unsimulated.append((name, matrix))
            return
        work.mkdir(parents=True)
        temp = work.parent / f"{work.name}.temp"
        temp.mkdir()
        machine = None
        if self.ubuntu is not None:
            # Every x64 Ubuntu label is this one simulation (runner_shape says how it differs).
            assert runs_on in UBUNTU_LABELS, f"{name}: no simulation of runner {runs_on!r}"
            machine = self.ubuntu
        state = machine.job(work.parent / f"{work.name}.machine") if machine else None
        steps: dict[str, dict[str, str]] = {}
        # GITHUB_TOKEN's scopes are the job's permissions (else the workflow's): the fake gh
        # refuses what they do not allow, as GitHub answers 403.
        permissions = job.get("permissions", self.workflow.get("permissions", {})) or {}
        granted = {
            "FAKE_GH_PERMISSIONS": ",".join(f"{k}:{v}" for k, v in sorted(permissions.items())),
            **(self.oidc if permissions.get("id-token") == "write" else {}),
        }
        for raw in job["steps"]:
            step = self.substitute(raw, matrix, steps)
            if "uses" in step:
                self.use(step["uses"], step.get("with", {}), work)
                continue
            output = temp / "github_output"
            output.write_text("")
            base = machine.environment(state, self.env) if machine and state else self.env
            env = {
                **base,
                **granted,
                **{k: str(v) for k, v in self.workflow.get("env", {}).items()},
                **{k: _text(v) for k, v in step.get("env", {}).items()},
                "GITHUB_OUTPUT": str(output),
                "GITHUB_SHA": head(self.repository),
                "GITHUB_REF": self.ref,
                "GITHUB_REF_NAME": self.ref.split("/", 2)[-1],
                "GITHUB_REF_TYPE": "tag" if self.ref.startswith("refs/tags/") else "branch",
                "RUNNER_TEMP": str(temp),
            }
            self.log.append(f"[{name} {matrix.get('target', '')}] {step['run']}")
            argv = ["bash", "-e", "-c", step["run"]]
            if machine and state:
                argv = machine.argv(state, step["run"])
            result = subprocess.run(
                argv,
                cwd=work, env=env, capture_output=True, text=True, check=False, timeout=3600,
            )  # fmt: skip
            assert result.returncode == 0, (
                f"job {name} {matrix}: `{step['run']}` exited {result.returncode}\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
            if "id" in step:
                steps[step["id"]] = dict(
                    line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
                )
        self.outputs[name] = {
            key: self.substitute(value, matrix, steps)
            for key, value in job.get("outputs", {}).items()
        }
        if not self.keep_workspaces:
            for spent in (work, temp, *([state] if state else [])):
                shutil.rmtree(spent)

    def use(self, action: str, inputs: dict[str, Any], work: Path) -> None:
        """Do what the few actions castoff's workflows use do, with local folders."""
        store = self.root / "artifacts"
        name = action.split("@", 1)[0]
        if name == "actions/checkout":
            shutil.copytree(self.repository, work, dirs_exist_ok=True)
        elif name == "actions/setup-python":
            pass  # this machine's python is on PATH
        elif name == "actions/upload-artifact":
            source = work / inputs["path"]
            assert source.is_dir(), f"nothing to upload at {source}"
            assert any(source.iterdir()), f"nothing to upload at {source}"
            # As v4+ does: hidden files stay behind unless asked for; modes are not kept.
            hidden = inputs.get("include-hidden-files") is True
            shutil.copytree(
                source,
                store / inputs["name"],
                ignore=None if hidden else shutil.ignore_patterns(".*"),
                copy_function=shutil.copyfile,
            )
        elif name == "actions/download-artifact":
            if "name" in inputs:  # one artifact, straight into the path
                shutil.copytree(store / inputs["name"], work / inputs["path"])
                return
            for artifact in sorted(store.iterdir()):
                if fnmatch.fnmatch(artifact.name, inputs["pattern"]):
                    shutil.copytree(artifact, work / inputs["path"] / artifact.name)
        else:
            raise AssertionError(f"the local job runner does not know the action {action}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def tracked_copy(repository: Path, folder: Path, *, tag: str | None = None) -> Path:
    """Copy the files git tracks into a folder: a repository of one commit (and tag), as pushed."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=repository, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(repository / name, target)  # with its mode: ci/nox stays executable
    git = ["git", "-c", "user.name=castoff-tests", "-c", "user.email=tests@castoff.invalid"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "release"]):
        subprocess.run([*git, *argv], cwd=folder, capture_output=True, check=True)
    if tag is not None:
        subprocess.run([*git, "tag", tag], cwd=folder, capture_output=True, check=True)
    return folder


def head(repository: Path) -> str:
    """Return the commit a repository's HEAD is at."""
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repository, capture_output=True, text=True, check=True
    ).stdout.strip()
