from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest

from castoff.config import Config, load
from castoff.errors import ConfigError, PlanError, UsageError
from castoff.plan import ReleasePlan, build_plan, plan_schema, select_targets
from tests.conftest import GOLDEN_PLAN


@pytest.fixture
def config(example_pyproject: Path) -> Config:
    """Return the embedded example's resolved config."""
    return load(example_pyproject)


def _wheel_of(plan: ReleasePlan, triple: str) -> dict[str, object]:
    return next(
        a for a in plan.to_dict()["artifacts"] if a["kind"] == "wheel" and a["target"] == triple
    )


def test_example_plan_matches_the_golden_file(config: Config) -> None:
    """The example's plan is byte-identical to tests/fixtures/plan-hello.json.

    If a change to the plan is intended, regenerate the file with
    `castoff plan --config examples/hello/pyproject.toml --json > tests/fixtures/plan-hello.json`
    and review the diff.
    """
    assert build_plan(config).to_json() == GOLDEN_PLAN.read_text()


def test_the_plan_is_deterministic(example_pyproject: Path) -> None:
    """Resolving and planning twice gives the same bytes."""
    assert (
        build_plan(load(example_pyproject)).to_json()
        == build_plan(load(example_pyproject)).to_json()
    )


def test_the_plan_validates_against_its_shipped_schema(config: Config) -> None:
    """The JSON plan is valid under the JSON Schema that ships in the package."""
    jsonschema.Draft202012Validator.check_schema(plan_schema())
    jsonschema.validate(json.loads(build_plan(config).to_json()), plan_schema())


def test_the_schema_rejects_a_plan_without_destinations(config: Config) -> None:
    """The schema is strict enough to catch a malformed artifact."""
    data = json.loads(build_plan(config).to_json())
    del data["artifacts"][0]["destinations"]
    with pytest.raises(jsonschema.ValidationError, match="destinations"):
        jsonschema.validate(data, plan_schema())


def test_every_destination_is_taken_or_excluded_with_a_reason(config: Config) -> None:
    """For each artifact, pypi and github are either destinations or exclusions with a reason."""
    plan = build_plan(config)
    for artifact in plan.artifacts:
        left_out = {e.destination for e in artifact.excluded}
        assert set(artifact.destinations).isdisjoint(left_out), artifact.name
        assert set(artifact.destinations) | left_out == {"github", "pypi"}, artifact.name
        assert all(e.reason for e in artifact.excluded)
    names = [a.name for a in plan.artifacts]
    assert len(names) == len(set(names))
    assert {n for job in plan.jobs for n in job.artifacts} <= set(names)


def test_loongarch64_wheel_stays_off_pypi_with_the_reason(config: Config) -> None:
    """PyPI refuses loongarch64, so its wheel goes to GitHub only, and the plan says why."""
    wheel = _wheel_of(build_plan(config), "loongarch64-unknown-linux-musl")
    assert wheel["destinations"] == ["github"]
    assert wheel["excluded"] == [
        {
            "destination": "pypi",
            "reason": "PyPI refuses platform tag 'manylinux_2_36_loongarch64': "
            "'loongarch64' is not "
            "among PyPI's manylinux architectures (aarch64, armv7l, i686, ppc64, ppc64le, "
            "riscv64, s390x, x86_64)",
        }
    ]


def test_tag_policy_tags_static_musl_manylinux_at_the_floor_without_a_glibc_sibling(
    config: Config,
) -> None:
    """riscv64 musl gets manylinux_2_31; x86_64 musl, which has a glibc sibling, does not."""
    plan = build_plan(config)
    assert _wheel_of(plan, "riscv64gc-unknown-linux-musl")["platform_tags"] == [
        "manylinux_2_31_riscv64",
        "musllinux_1_2_riscv64",
    ]
    assert _wheel_of(plan, "x86_64-unknown-linux-musl")["platform_tags"] == ["musllinux_1_2_x86_64"]
    s390x = plan.jobs[[j.triple for j in plan.jobs].index("s390x-unknown-linux-musl")]
    assert s390x.built_platform_tags == ("musllinux_1_2_s390x",)


def test_aliases_name_their_source_archive(config: Config) -> None:
    """The s390x gnu archive is a copy of the musl one, with its own checksum sidecar."""
    by_name = {a.name: a for a in build_plan(config).artifacts}
    alias = by_name["hello-s390x-unknown-linux-gnu.tar.gz"]
    assert alias.alias_of == "hello-s390x-unknown-linux-musl.tar.gz"
    assert alias.target == "s390x-unknown-linux-gnu"
    assert by_name["hello-s390x-unknown-linux-gnu.tar.gz.sha256"].alias_of == (
        "hello-s390x-unknown-linux-musl.tar.gz.sha256"
    )


def _with_target(config: Config, triple: str, **changes: object) -> Config:
    targets = tuple(
        dataclasses.replace(t, **changes) if t.triple == triple else t  # type: ignore[arg-type]
        for t in config.targets
    )
    return dataclasses.replace(config, targets=targets)


def test_pypi_true_on_a_target_pypi_refuses_is_a_config_error(config: Config) -> None:
    """Forcing PyPI for loongarch64 is refused before anything is built, naming the key."""
    forced = _with_target(config, "loongarch64-unknown-linux-musl", pypi=True)
    with pytest.raises(ConfigError) as caught:
        build_plan(forced)
    assert (
        "tool.castoff.targets[11].pypi: is true, but PyPI refuses platform tag"
        in caught.value.message
    )


def test_pypi_false_keeps_the_wheel_for_github_with_the_key_as_reason(config: Config) -> None:
    """A target switched off for PyPI says so in its exclusion."""
    plan = build_plan(_with_target(config, "x86_64-unknown-linux-musl", pypi=False))
    wheel = _wheel_of(plan, "x86_64-unknown-linux-musl")
    assert wheel["destinations"] == ["github"]
    assert wheel["excluded"] == [
        {"destination": "pypi", "reason": "tool.castoff.targets[4].pypi = false"}
    ]


def test_two_wheels_claiming_one_tag_is_a_config_error(config: Config) -> None:
    """An extra tag that another wheel already has would make installers pick at random."""
    clash = _with_target(config, "x86_64-unknown-linux-musl", extra_tags=("manylinux_2_17_x86_64",))
    with pytest.raises(ConfigError, match=r"both claim platform tag 'manylinux_2_17_x86_64'"):
        build_plan(clash)


def test_github_wheels_off_still_keeps_wheels_pypi_refuses(config: Config) -> None:
    """With wheels off the GitHub release, a wheel PyPI refuses still goes there."""
    publish = dataclasses.replace(
        config.publish, github=dataclasses.replace(config.publish.github, wheels=False)
    )
    plan = build_plan(dataclasses.replace(config, publish=publish))
    assert _wheel_of(plan, "x86_64-unknown-linux-gnu")["destinations"] == ["pypi"]
    assert _wheel_of(plan, "loongarch64-unknown-linux-musl")["destinations"] == ["github"]


def test_publishing_switched_off_is_given_as_the_reason(config: Config) -> None:
    """Disabled destinations appear as exclusions naming the switch."""
    publish = dataclasses.replace(
        config.publish,
        pypi=dataclasses.replace(config.publish.pypi, enabled=False),
        github=dataclasses.replace(config.publish.github, enabled=False),
    )
    plan = build_plan(dataclasses.replace(config, publish=publish))
    wheel = _wheel_of(plan, "x86_64-unknown-linux-gnu")
    assert wheel["destinations"] == []
    reasons = [e["reason"] for e in wheel["excluded"]]  # type: ignore[attr-defined]
    assert any("publish.pypi.enabled = false" in r for r in reasons)
    assert any("publish.github.enabled = false" in r for r in reasons)


def test_a_partial_plan_names_files_as_the_full_plan_does(config: Config) -> None:
    """Selecting targets keeps their files' names, aliases and tags exactly as in the full plan."""
    full = {a.name: a for a in build_plan(config).artifacts}
    only = select_targets(config, ["s390x-unknown-linux-gnu"], source="--target")
    assert only == ("s390x-unknown-linux-musl",)
    partial = build_plan(config, only=only)
    assert [j.triple for j in partial.jobs] == ["s390x-unknown-linux-musl"]
    for artifact in partial.artifacts:
        if artifact.name != "SHA256SUMS":
            assert full[artifact.name] == artifact
    assert "hello-s390x-unknown-linux-gnu.tar.gz" in {a.name for a in partial.artifacts}


def test_selecting_an_unknown_target_names_the_option(config: Config) -> None:
    """An unknown selected target is a usage error naming where it came from."""
    with pytest.raises(
        UsageError, match="CASTOFF_TARGETS: 'mips-unknown-linux-gnu' is not a target"
    ):
        select_targets(config, ["mips-unknown-linux-gnu"], source="CASTOFF_TARGETS")


def test_github_matrix_has_one_entry_per_job(config: Config) -> None:
    """The matrix lists each job's target, method and runner under include; the sdist last."""
    matrix = build_plan(config).github_matrix()
    assert len(matrix["include"]) == 19
    assert matrix["include"][-1] == {
        "target": "sdist",
        "method": "sdist",
        "runs-on": "ubuntu-latest",
    }
    assert matrix["include"][2] == {
        "target": "powerpc64le-unknown-linux-gnu",
        "method": "cross-gcc",
        # Its cross gcc links against the runner's glibc: the oldest hosted one (2.35).
        "runs-on": "ubuntu-22.04",
    }


def test_plan_json_round_trips(config: Config) -> None:
    """A plan read back from its JSON is equal to the original."""
    plan = build_plan(config)
    assert ReleasePlan.from_json(plan.to_json()) == plan


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "not JSON"),
        ("[]", "not a castoff plan"),
        ('{"schema_version": 99}', "schema_version 99, but this castoff reads version 5"),
        ('{"schema_version": 5, "project": {}}', "malformed castoff plan"),
    ],
)
def test_unreadable_plans_are_plan_errors(text: str, fragment: str) -> None:
    """Plans that are not JSON, not castoff's, or of another schema are refused with exit code 4."""
    with pytest.raises(PlanError, match=fragment) as caught:
        ReleasePlan.from_json(text, source="plan.json")
    assert caught.value.exit_code == 4


def test_a_job_must_name_its_wheel_archive_and_sidecar(config: Config) -> None:
    """Executors read a job's files by place; a plan whose job names fewer is refused."""
    data = json.loads(build_plan(config).to_json())
    data["jobs"][0]["artifacts"] = data["jobs"][0]["artifacts"][:1]
    with pytest.raises(PlanError, match="should name 3 files") as caught:
        ReleasePlan.from_json(json.dumps(data), source="plan.json")
    assert caught.value.exit_code == PlanError.exit_code
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, plan_schema())


def test_a_job_must_name_a_registered_build_method(config: Config) -> None:
    """A plan naming a build method castoff does not know is refused when read."""
    data = json.loads(build_plan(config).to_json())
    data["jobs"][0]["method"] = "nope"
    with pytest.raises(PlanError, match=r"jobs\[0\]\.method .nope. is not one of"):
        ReleasePlan.from_json(json.dumps(data), source="plan.json")


@pytest.mark.parametrize("key", ["manylinux", "musllinux", "linked_glibc"])
def test_a_jobs_libc_versions_must_be_spelled_as_tags_spell_them(config: Config, key: str) -> None:
    """A plan from a hostile job output cannot hand maturin or the table any other text."""
    data = json.loads(build_plan(config).to_json())
    data["jobs"][0][key] = "2_17 --zig"
    with pytest.raises(PlanError, match=rf"jobs\[0\]\.{key} should be a version such as 2_17"):
        ReleasePlan.from_json(json.dumps(data), source="plan.json")
