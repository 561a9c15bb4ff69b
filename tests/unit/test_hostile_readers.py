"""Every reader of a file castoff did not just write, fed what an attacker or a broken job writes.

Named cases check that the error names the file and the field; the property-based tests feed
each reader mutated documents (values swapped for other JSON, keys dropped or added, text cut
short, bytes flipped) and require a castoff error or a result, never another exception.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from castoff.errors import CastoffError, PlanError, PublishError, SignError, VerifyError
from castoff.folders import MARKER, owned_entries
from castoff.manifest import (
    Field,
    PartialManifest,
    ReleaseManifest,
    name_problem,
    parse_checksums,
)
from castoff.publish import index
from castoff.publish.journal import open_journal, read_journal
from castoff.sign.provenance import read_subjects
from castoff.sign.signing import folder_keys

SHA = "ab" * 32
WHEEL = "castoff_hello-0.1.0-py3-none-musllinux_1_2_x86_64.whl"

PARTIAL: dict[str, Any] = {
    "schema_version": 1,
    "name": "castoff-hello",
    "version": "0.1.0",
    "target": "x86_64-unknown-linux-musl",
    "method": "zig",
    "std": "sysroot",
    "cache_key": "k",
    "source_commit": None,
    "source_tree_sha256": "t",
    "image": None,
    "toolchain": {"rustc": "1.96", "zig": None},
    "commands": [{"argv": ["maturin", "build"], "env": {"A": "1"}, "cwd": "/src", "seconds": 1.5}],
    "seconds": 2.0,
    "artifacts": [
        {"name": WHEEL, "kind": "wheel", "sha256": SHA, "size": 10, "platform_tags": ["t"]},
        {"name": "a.tar.gz", "kind": "archive", "sha256": SHA, "size": 5, "platform_tags": []},
    ],
    "smoke": [
        {"binary": "hello", "status": "passed", "runner": "native", "output": "o", "reason": "r"}
    ],
}


def _artifact(name: str, kind: str, **changes: Any) -> dict[str, Any]:
    entry = {
        "name": name,
        "kind": kind,
        "target": None,
        "sha256": SHA,
        "size": 3,
        "destinations": ["github"],
        "excluded": [{"destination": "pypi", "reason": "not a wheel"}],
        "alias_of": None,
        "platform_tags": [],
        "signatures": [{"backend": "minisign", "name": name + ".minisig", "sha256": SHA}],
    }
    entry.update(changes)
    return entry


RELEASE: dict[str, Any] = {
    "schema_version": 1,
    "kind": "release",
    "name": "castoff-hello",
    "version": "0.1.0",
    "artifacts": [
        _artifact(WHEEL, "wheel", destinations=["github", "pypi"], excluded=[]),
        _artifact("a.tar.gz", "archive"),
        _artifact("SHA256SUMS", "checksum"),
        _artifact("castoff_hello-0.1.0.intoto.json", "provenance"),
    ],
    "builds": [
        {
            "target": "x86_64-unknown-linux-musl",
            "method": "zig",
            "std": "sysroot",
            "source_commit": None,
            "source_tree_sha256": "t",
            "image": None,
            "toolchain": {},
            "commands": [],
            "smoke": [],
            "cache_key": "k",
        }
    ],
    "provenance": "castoff_hello-0.1.0.intoto.json",
}

JOURNAL: dict[str, Any] = {
    "schema_version": 1,
    "kind": "publish-journal",
    "name": "castoff-hello",
    "version": "0.1.0",
    "repository_url": "http://127.0.0.1:1/",
    "files": [{"name": WHEEL, "sha256": SHA, "state": "uploaded", "attempts": 1, "note": ""}],
    "github": {},
}

STATEMENT: dict[str, Any] = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [
        {"name": WHEEL, "digest": {"sha256": SHA}, "annotations": {"destinations": ["pypi"]}},
        {"name": "SHA256SUMS", "digest": {"sha256": SHA}},
    ],
    "predicateType": "https://slsa.dev/provenance/v1",
    "predicate": {
        "buildDefinition": {"externalParameters": {"name": "castoff-hello", "version": "0.1.0"}}
    },
}

KEYS: dict[str, Any] = {
    "minisign": {
        "secret_key": "minisign.key",
        "password_file": "minisign.password",
        "public_key": "minisign.pub",
    }
}


def _write(folder: Path, name: str, doc: object) -> Path:
    path = folder / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_the_valid_documents_are_read(tmp_path: Path) -> None:
    """The baselines the hostile cases change: each is read as castoff wrote it."""
    assert (
        PartialManifest.read(_write(tmp_path, "manifest.json", PARTIAL)).target == PARTIAL["target"]
    )
    assert (
        ReleaseManifest.read(_write(tmp_path, "manifest.json", RELEASE).parent).name
        == "castoff-hello"
    )
    assert read_journal(_write(tmp_path, "j.json", JOURNAL)).entries[WHEEL].state == "uploaded"
    subjects = read_subjects(_write(tmp_path, "p.intoto.json", STATEMENT))
    assert subjects[WHEEL].destinations == ("pypi",)
    assert subjects["SHA256SUMS"].destinations is None


def _with(doc: dict[str, Any], path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    changed = copy.deepcopy(doc)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()

PARTIAL_CASES = [
    (("artifacts", 0, "name"), "../../etc/passwd", "artifacts[0].name", "path separator"),
    (("artifacts", 0, "name"), "/etc/passwd", "artifacts[0].name", "path separator"),
    (("artifacts", 0, "name"), "..", "artifacts[0].name", "names a folder"),
    (("artifacts", 0, "name"), "-rf", "artifacts[0].name", "starts with '-'"),
    (("artifacts", 0, "name"), "a\x00b", "artifacts[0].name", "control character"),
    (("artifacts", 0, "name"), "x" * 300, "artifacts[0].name", "longer than"),
    (("artifacts", 0, "sha256"), SHA.upper(), "artifacts[0].sha256", "not a sha256"),
    (("artifacts", 0, "size"), -1, "artifacts[0].size", "below 0"),
    (("artifacts", 0, "size"), True, "artifacts[0].size", "whole number"),
    (("artifacts", 0, "kind"), "binary", "artifacts[0].kind", "not one of"),
    (("artifacts", 1, "name"), WHEEL, "artifacts[1]", "a second time"),
    (("commands", 0, "argv"), "maturin build", "commands[0].argv", "should be a list"),
    (("commands", 0, "seconds"), float("nan"), "commands[0].seconds", "not a duration"),
    (("smoke", 0, "status"), "skipped", "smoke[0].status", "not one of"),
    (("schema_version",), 2, "", "schema_version 2"),
    (("target",), _DELETE, "", "has no 'target'"),
    (("toolchain",), [], "toolchain", "should be an object"),
    (("evil",), 1, "", "keys castoff does not write"),
    (("name",), "//attacker.example/x", "name", "is not a project name PyPI accepts"),
    (("version",), "latest", "version", "is not a normalized PEP 440 version"),
    (("version",), "01.0", "version", "is not a normalized PEP 440 version"),
]


@pytest.mark.parametrize(("path", "value", "field", "match"), PARTIAL_CASES)
def test_a_hostile_partial_manifest_names_the_file_and_field(
    tmp_path: Path, path: tuple[str | int, ...], value: object, field: str, match: str
) -> None:
    """Partial manifests come from CI jobs: every field is checked, and named when wrong."""
    file = _write(tmp_path, "manifest.json", _with(PARTIAL, path, value))
    with pytest.raises(PlanError) as caught:
        PartialManifest.read(file)
    assert str(file) in caught.value.message
    assert field in caught.value.message
    assert match in caught.value.message


RELEASE_CASES = [
    (("artifacts", 0, "signatures", 0, "name"), "../x.minisig", "signatures[0].name"),
    (("artifacts", 1, "alias_of"), "/etc/passwd", "alias_of"),
    (("artifacts", 0, "destinations"), ["github", "github"], "artifacts[0]"),
    (("artifacts", 0, "destinations"), ["pypi", "s3"], "destinations[1]"),
    (("artifacts", 1), _artifact(WHEEL, "archive"), "more than once"),
    (("artifacts", 1, "signatures", 0, "name"), "b.tar.gz.minisig", "not a minisign signature"),
    (("artifacts", 1, "signatures", 0, "backend"), "PGP!", "not a signing backend"),
    (("provenance",), "a.tar.gz", "provenance names a.tar.gz"),
    (("kind",), "partial", "kind is 'partial'"),
    (("name",), "//attacker.example/x", "is not a project name PyPI accepts"),
    (("version",), "latest", "is not a normalized PEP 440 version"),
    (("builds",), {}, "builds"),
]


@pytest.mark.parametrize(("path", "value", "match"), RELEASE_CASES)
def test_a_hostile_release_manifest_names_the_file_and_field(
    tmp_path: Path, path: tuple[str | int, ...], value: object, match: str
) -> None:
    """manifest.json of a release folder: the same strictness."""
    _write(tmp_path, "manifest.json", _with(RELEASE, path, value))
    with pytest.raises(PlanError) as caught:
        ReleaseManifest.read(tmp_path)
    assert "manifest.json" in caught.value.message
    assert match in caught.value.message


@pytest.mark.parametrize(
    "text",
    ["", "[]", "[1, 2]", '"release"', "null", '{"schema_version": 1', "\xff\xfe{}", "{" * 5000],
)
def test_list_shaped_truncated_or_binary_manifests_are_plan_errors(
    tmp_path: Path, text: str
) -> None:
    """Not an object, not JSON, not UTF-8, nested beyond reason: one paragraph each."""
    (tmp_path / "manifest.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(PlanError, match=r"manifest\.json"):
        ReleaseManifest.read(tmp_path)
    with pytest.raises(PlanError, match=r"manifest\.json"):
        PartialManifest.read(tmp_path / "manifest.json")


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("files", 0, "state"), "done", "files[0].state"),
        (("files", 0, "attempts"), -1, "files[0].attempts"),
        (("files", 0, "name"), "../../x.whl", "files[0].name"),
        (("files",), {"a": 1}, "files"),
        (("kind",), "release", "kind"),
    ],
)
def test_a_hostile_journal_is_a_plan_error_and_resume_does_not_start(
    tmp_path: Path, path: tuple[str | int, ...], value: object, match: str
) -> None:
    """The journal is a hint; a broken one stops --resume with its field named."""
    _write(tmp_path, "publish-journal.json", _with(JOURNAL, path, value))
    with pytest.raises(PlanError, match=re.escape(match)):
        open_journal(
            tmp_path,
            name="castoff-hello",
            version="0.1.0",
            repository_url="http://127.0.0.1:1/",
            files=[(WHEEL, SHA)],
            resume=True,
        )


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("subject",), {"name": WHEEL}, "subject should be a list"),
        (("subject", 0, "digest", "sha256"), "zz" * 32, "not a sha256"),
        (("subject", 1, "name"), WHEEL, "a second time"),
        (("subject", 0, "name"), "../../etc/passwd", "path separator"),
        (("subject", 0, "annotations", "destinations"), ["moon"], "not one of"),
        (("_type",), "https://in-toto.io/Statement/v0.1", "_type"),
        (("predicateType",), "https://example.com/other", "predicateType"),
    ],
)
def test_a_hostile_provenance_is_a_verify_error(
    tmp_path: Path, path: tuple[str | int, ...], value: object, match: str
) -> None:
    """The provenance is a trust root: anything but castoff's shape is refused, named."""
    file = _write(tmp_path, "p.intoto.json", _with(STATEMENT, path, value))
    with pytest.raises(VerifyError, match=match):
        read_subjects(file)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\xff\xfe" + f"{SHA}  a.whl\n".encode(), "not UTF-8"),
        (f"{SHA}  a.whl\r\n".encode(), "control character"),
        (f"{SHA} a.whl\n".encode(), "line 1 is not"),
        (f"{SHA}  ../a.whl\n".encode(), "path separator"),
        (f"{SHA}  /etc/passwd\n".encode(), "path separator"),
        (f"{SHA}  a.whl\n{SHA}  a.whl\n".encode(), "a second time"),
        (f"{SHA}  a.whl\n\n".encode(), "line 2 is not"),
        (f"{SHA[:-1]}  a.whl\n".encode(), "line 1 is not"),
        (f"{SHA.upper()}  a.whl\n".encode(), "line 1 is not"),
    ],
)
def test_hostile_checksum_files_are_refused_by_line(raw: bytes, match: str) -> None:
    """SHA256SUMS and sidecars: exactly `sha256sum` output with plain names."""
    with pytest.raises(VerifyError, match=match):
        parse_checksums(raw, "SHA256SUMS", VerifyError)


def test_a_checksum_file_castoff_writes_is_read_back() -> None:
    """Both of sha256sum's separators, and the binary-mode star."""
    assert parse_checksums(f"{SHA}  a.whl\n{SHA} *b.tar.gz\n".encode(), "S") == {
        "a.whl": SHA,
        "b.tar.gz": SHA,
    }


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ({"minisign": {**KEYS["minisign"], "secret_key": "../../etc/shadow"}}, "path separator"),
        ({"minisign": {**KEYS["minisign"], "public_key": "/etc/passwd"}}, "path separator"),
        ({"minisign": []}, "should be an object"),
        ([], "should be an object"),
        ({"minisign": {"secret_key": "minisign.key"}}, "minisign has no 'password_file'"),
    ],
)
def test_a_hostile_keys_folder_is_a_sign_error(tmp_path: Path, keys: object, match: str) -> None:
    """keys.json names files of its own folder only, by plain name."""
    _write(tmp_path, "keys.json", keys)
    with pytest.raises(SignError, match=match):
        folder_keys(tmp_path, "minisign", secret=False)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[]", "should be an object"),
        ('{"files": [{"filename": 3}]}', "filename should be a string"),
        ('{"files": [{"filename": "a", "hashes": {"sha256": "nothex"}}]}', "not a sha256"),
        ('{"files": [{"filename": "a", "upload-time": "yesterday"}]}', "not an ISO 8601"),
        ('{"files": "all"}', "files should be a list"),
        ("{", "not JSON"),
    ],
)
def test_a_hostile_index_answer_is_a_publish_error(text: str, match: str) -> None:
    """The index's PEP 691 page is input too."""
    with pytest.raises(PublishError, match=match):
        index.parse_json(text, "http://index/simple/x/")


def test_an_html_page_with_junk_links_gives_no_hashes_not_a_crash() -> None:
    """Links without hashes, with odd fragments, unclosed: files without a sha256."""
    files = index.parse_html('<a href="x.whl#sha256=nothex">x.whl</a><a href="#md5=1">y</a><a>')
    assert [(f.filename, f.sha256) for f in files] == [("x.whl", None), ("y", None)]


def test_a_marker_of_another_shape_owns_nothing(tmp_path: Path) -> None:
    """A foreign or broken .castoff.json never makes castoff delete anything."""
    for text in ("[]", '{"castoff": 1, "kind": "release", "files": "all"}', "\xff", "{"):
        (tmp_path / MARKER).write_text(text, encoding="latin-1")
        assert owned_entries(tmp_path, "release") is None
    (tmp_path / MARKER).write_text(
        '{"castoff": 1, "kind": "release", "files": ["a", "../b", "/c", "..\\\\d", "C:e"]}'
    )  # on Windows '..\\d' and 'C:e' leave the folder too
    assert owned_entries(tmp_path, "release") == {"a"}


# --- property-based: mutated documents never crash a reader -------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(doc: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """Return a document's bytes after a few random mutations, at the JSON or the byte level."""
    doc: Any = copy.deepcopy(base)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(doc)
        how = draw(st.sampled_from(["replace", "delete", "add", "wrap"]))
        if how == "wrap" or not paths:
            doc = draw(st.sampled_from([[doc], {"doc": doc}, draw(JSON)]))
            continue
        path = draw(st.sampled_from(paths))
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        if how == "replace":
            parent[path[-1]] = draw(JSON)
        elif how == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(JSON)
        else:
            parent.append(draw(JSON))
    raw = json.dumps(doc, allow_nan=True).encode()
    level = draw(st.sampled_from(["json", "cut", "flip"]))
    if level == "cut":
        raw = raw[: draw(st.integers(min_value=0, max_value=len(raw)))]
    elif level == "flip" and raw:
        at = draw(st.integers(min_value=0, max_value=len(raw) - 1))
        raw = raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    return raw


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _read_in_folder(name: str, raw: bytes, reader: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / name).write_bytes(raw)
        message = "read"
        try:
            reader(Path(tmp))
        except CastoffError as exc:
            message = exc.message
        assert message  # a paragraph, never empty


@FUZZ
@given(mutated(PARTIAL))
def test_mutated_partial_manifests_never_crash(raw: bytes) -> None:
    """PartialManifest.read: a result or a PlanError."""
    _read_in_folder("manifest.json", raw, lambda f: PartialManifest.read(f / "manifest.json"))


@FUZZ
@given(mutated(RELEASE))
def test_mutated_release_manifests_never_crash(raw: bytes) -> None:
    """ReleaseManifest.read: a result or a PlanError."""
    _read_in_folder("manifest.json", raw, ReleaseManifest.read)


@FUZZ
@given(mutated(JOURNAL))
def test_mutated_journals_never_crash(raw: bytes) -> None:
    """open_journal --resume: a journal or a castoff error."""
    _read_in_folder(
        "publish-journal.json",
        raw,
        lambda f: open_journal(
            f,
            name="castoff-hello",
            version="0.1.0",
            repository_url="http://127.0.0.1:1/",
            files=[(WHEEL, SHA)],
            resume=True,
        ),
    )


@FUZZ
@given(mutated(STATEMENT))
def test_mutated_provenance_never_crashes(raw: bytes) -> None:
    """read_subjects: subjects or a VerifyError."""
    _read_in_folder("p.intoto.json", raw, lambda f: read_subjects(f / "p.intoto.json"))


@FUZZ
@given(mutated(KEYS))
def test_mutated_key_lists_never_crash(raw: bytes) -> None:
    """folder_keys: keys or a SignError."""
    _read_in_folder("keys.json", raw, lambda f: folder_keys(f, "minisign", secret=False))


@FUZZ
@given(mutated({"files": [{"filename": WHEEL, "hashes": {"sha256": SHA}, "url": "x"}]}))
def test_mutated_index_answers_never_crash(raw: bytes) -> None:
    """The index's JSON and HTML pages: files or a PublishError."""
    text = raw.decode("utf-8", "replace")
    with contextlib.suppress(PublishError):
        index.parse_json(text, "http://index/")
    index.parse_html(text)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.just(f"{SHA}  a.whl"),
            st.text(max_size=80),
            st.builds(lambda n: f"{SHA}  {n}", st.text(max_size=20)),
        ),
        max_size=5,
    ),
    st.binary(max_size=8),
)
def test_mutated_checksum_files_never_crash(lines: list[str], junk: bytes) -> None:
    """parse_checksums: names and digests, or a VerifyError naming the line."""
    raw = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass") + junk
    try:
        digests = parse_checksums(raw, "SHA256SUMS", VerifyError)
    except VerifyError:
        return
    assert all(name_problem(n) is None for n in digests)


@FUZZ
@given(st.text(max_size=40))
def test_every_accepted_name_stays_in_its_folder(name: str) -> None:
    """What name_problem accepts can never leave the folder it is joined to."""
    if name_problem(name) is None:
        folder = Path("/release")
        assert (folder / name).parent == folder
        assert not Path(name).is_absolute()


def test_field_errors_carry_the_readers_error_type() -> None:
    """A reader chooses its error (and so its exit code); the field says where."""
    with pytest.raises(PublishError, match=r"page: files\[0\] should be an object"):
        next(Field({"files": [1]}, "", "page", PublishError).key("files").items()).object()
