"""The release's provenance: an in-toto statement with a SLSA v1 predicate, from the manifest."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from castoff import __version__
from castoff.errors import CastoffError, VerifyError
from castoff.manifest import DESTINATIONS, Field, ReleaseManifest, read_document

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# What externalParameters and byproducts mean; docs/provenance.md describes this build type.
BUILD_TYPE = "https://castoff.invalid/provenance/maturin-cross/v1"


def builder(env: Mapping[str, str]) -> dict[str, Any]:
    """Return who ran the release: the GitHub Actions workflow run, or castoff on a machine."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        workflow = env.get("GITHUB_WORKFLOW_REF", "")
        return {
            "id": f"{server}/{workflow}" if workflow else f"{server}/{env['GITHUB_REPOSITORY']}",
            "invocation": f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/"
            f"{env.get('GITHUB_RUN_ID', '')}/attempts/{env.get('GITHUB_RUN_ATTEMPT', '1')}",
        }
    return {"id": "https://castoff.invalid/builders/local", "invocation": None}


def statement(manifest: ReleaseManifest, env: Mapping[str, str]) -> dict[str, Any]:
    """Return the statement: every artifact with its sha256, and how each target was built."""
    builds = manifest.builds
    run = builder(env)
    dependencies: list[dict[str, Any]] = []
    for commit, tree in sorted({(b.source_commit or "", b.source_tree_sha256) for b in builds}):
        source: dict[str, Any] = {"name": "source", "digest": {}}
        if commit:
            source["digest"]["gitCommit"] = commit
        if tree:
            # castoff's own hash of the files the build read (sorted paths and contents).
            source["annotations"] = {"source_tree_sha256": tree}
        if env.get("GITHUB_REPOSITORY") and commit:
            server = env.get("GITHUB_SERVER_URL", "https://github.com")
            source["uri"] = f"git+{server}/{env['GITHUB_REPOSITORY']}@{commit}"
        dependencies.append(source)
    for image in sorted({b.image for b in builds if b.image}):
        reference, _, digest = image.partition("@sha256:")
        pinned = {"uri": f"docker://{reference}", "digest": {"sha256": digest}}
        dependencies.append(pinned if digest else {"uri": image})
    predicate = {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "name": manifest.name,
                "version": manifest.version,
                "targets": [b.target for b in builds],
            },
            "internalParameters": {"castoff": __version__},
            "resolvedDependencies": dependencies,
        },
        "runDetails": {
            "builder": {"id": run["id"], "version": {"castoff": __version__}},
            "metadata": {"invocationId": run["invocation"]} if run["invocation"] else {},
            "byproducts": [
                {
                    "name": f"build/{b.target}",
                    "annotations": {
                        "method": b.method,
                        "std": b.std,
                        "image": b.image,
                        "toolchain": b.toolchain,
                        "commands": [{**asdict(c), "argv": list(c.argv)} for c in b.commands],
                        "smoke": [asdict(s) for s in b.smoke],
                        "cache_key": b.cache_key,
                    },
                }
                for b in builds
            ],
        },
    }
    return {
        "_type": STATEMENT_TYPE,
        # Each subject says where its file goes, signed with the rest: a download from the
        # GitHub release may lack a wheel that only went to the index, and verify knows it.
        "subject": [
            {
                "name": a.name,
                "digest": {"sha256": a.sha256},
                "annotations": {"destinations": list(a.destinations)},
            }
            for a in manifest.artifacts
            if a.kind != "provenance"
        ],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }


def to_text(document: Mapping[str, Any]) -> str:
    """Return deterministic JSON text: the same release gives the same bytes."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True, kw_only=True)
class Subject:
    """A file the provenance vouches for: its sha256, and where it goes if the statement says."""

    sha256: str
    destinations: tuple[str, ...] | None


@dataclass(frozen=True, kw_only=True)
class Statement:
    """What a signed provenance statement says: the release and each file of it."""

    name: str
    version: str
    subjects: dict[str, Subject]


def read_statement(path: Path, error: type[CastoffError] = VerifyError) -> Statement:
    """Read a provenance statement, refusing anything but castoff's statement shape."""
    doc = read_document(path, "an in-toto provenance statement", error)
    subjects = parse_subjects(doc)
    parameters = doc.key("predicate").key("buildDefinition").key("externalParameters")
    return Statement(
        name=parameters.key("name").project(),
        version=parameters.key("version").version(),
        subjects=subjects,
    )


def read_subjects(path: Path, error: type[CastoffError] = VerifyError) -> dict[str, Subject]:
    """Read a provenance statement's subjects, refusing anything but castoff's statement shape."""
    return read_statement(path, error).subjects


def parse_subjects(doc: Field) -> dict[str, Subject]:
    """Validate a parsed statement and return its subjects by file name."""
    doc.object()
    if doc.key("_type").value != STATEMENT_TYPE:
        doc.key("_type").fail(f"is not {STATEMENT_TYPE}.")
    if doc.key("predicateType").value != PREDICATE_TYPE:
        doc.key("predicateType").fail(f"is not {PREDICATE_TYPE}.")
    doc.key("predicate").object()
    subjects: dict[str, Subject] = {}
    for item in doc.key("subject").items():
        name = item.key("name").file_name()
        if name in subjects:
            item.fail(f"names {name} a second time.")
        destinations = None
        annotations = item.optional("annotations")
        if annotations is not None and annotations.optional("destinations") is not None:
            destinations = tuple(
                d.choice(DESTINATIONS) for d in annotations.key("destinations").items()
            )
        subjects[name] = Subject(
            sha256=item.key("digest").key("sha256").sha256(), destinations=destinations
        )
    return subjects
