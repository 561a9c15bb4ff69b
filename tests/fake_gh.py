"""A recording FAKE of the `gh release` commands castoff runs: GitHub cannot be reached here.

State lives under $FAKE_GH_DIR/<owner>/<name>/<tag>/ (release.json and assets/); every call is
appended to $FAKE_GH_DIR/calls.jsonl. With FAKE_GH_NO_DIGEST=1, `view` gives no asset digests
(as for releases made before GitHub computed them), so castoff must download to compare.
The repository's tags are files $FAKE_GH_DIR/<owner>/<name>/.tags/<tag> holding a commit id:
`gh release create --target C` makes a missing tag at C and, as GitHub does, ignores --target
for a tag that exists; `gh api repos/<owner>/<name>/git/ref/tags/<tag>` reads them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any


def install(folder: Path) -> tuple[Path, Path]:
    """Make a `gh` that runs this fake; return the fake's state folder and the bin folder."""
    state, bin_dir = folder / "github", folder / "bin"
    state.mkdir(parents=True)
    bin_dir.mkdir(parents=True)
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nexec {sys.executable} {Path(__file__).resolve()} "$@"\n')
    gh.chmod(0o755)
    return state, bin_dir


def _state(root: Path, repo: str, tag: str) -> Path:
    return root / repo / tag


def _fail(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.exit(1)


def _view(release: Path, fields: str) -> None:
    if not (release / "release.json").is_file():
        _fail("release not found")
    meta: dict[str, Any] = json.loads((release / "release.json").read_text())
    assets = []
    for path in sorted((release / "assets").iterdir()):
        asset: dict[str, Any] = {"name": path.name, "size": path.stat().st_size}
        if not os.environ.get("FAKE_GH_NO_DIGEST"):
            asset["digest"] = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        assets.append(asset)
    out = {"isDraft": meta["isDraft"], "assets": assets, "targetCommitish": meta.get("target")}
    sys.stdout.write(json.dumps({k: v for k, v in out.items() if k in fields.split(",")}))


def _api(root: Path, path: str) -> None:
    """Answer `gh api repos/OWNER/NAME/git/ref/tags/TAG` from the fake's tag files."""
    parts = path.split("/")
    if parts[0] != "repos" or parts[3:6] != ["git", "ref", "tags"]:
        _fail(f"gh api (fake): {path} is not simulated")
    tag = "/".join(parts[6:])
    file = root / parts[1] / parts[2] / ".tags" / tag
    if not file.is_file():
        _fail("gh: Not Found (HTTP 404)")
    ref = {"ref": f"refs/tags/{tag}", "object": {"type": "commit", "sha": file.read_text()}}
    sys.stdout.write(json.dumps(ref))


def _check_token(argv: list[str]) -> None:
    """Refuse what GITHUB_TOKEN's scopes (the job's permissions; unset: all) do not allow."""
    granted = os.environ.get("FAKE_GH_PERMISSIONS")
    if granted is not None:
        writes = argv[1:2] in (["create"], ["upload"], ["edit"])
        wanted = {"contents:write"} if writes else {"contents:read", "contents:write"}
        if not wanted & set(granted.split(",")):
            _fail("HTTP 403: Resource not accessible by integration")


def main() -> None:
    """Act as `gh release view|create|upload|edit|download ... --repo OWNER/NAME`, `gh api`."""
    root = Path(os.environ["FAKE_GH_DIR"])
    with (root / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps(sys.argv[1:]) + "\n")
    _check_token(sys.argv[1:])
    if sys.argv[1:2] == ["api"]:
        _api(root, sys.argv[2])
        return
    parser = argparse.ArgumentParser(prog="gh")
    parser.add_argument("group", choices=["release"])
    parser.add_argument("action", choices=["view", "create", "upload", "edit", "download"])
    parser.add_argument("tag")
    parser.add_argument("files", nargs="*")
    parser.add_argument("--repo", required=True)
    parser.add_argument("--json", default="")
    parser.add_argument("--draft", nargs="?", const="true")
    parser.add_argument("--title", default="")
    parser.add_argument("--notes", default="")
    parser.add_argument("--clobber", action="store_true")
    parser.add_argument("--target", default="")
    parser.add_argument("--dir", default=".")
    parser.add_argument("--pattern", action="append", default=[])
    # gh takes flags anywhere, as in `upload TAG --clobber FILE... --repo R`.
    args = parser.parse_intermixed_args()
    release = _state(root, args.repo, args.tag)
    if args.action == "view":
        _view(release, args.json)
    elif args.action == "create":
        if (release / "release.json").exists():
            _fail("HTTP 422: Validation Failed (tag_name already_exists)")
        (release / "assets").mkdir(parents=True)
        tag_file = root / args.repo / ".tags" / args.tag
        if not tag_file.exists():
            tag_file.parent.mkdir(parents=True, exist_ok=True)
            tag_file.write_text(args.target or "0" * 40)  # else: the default branch's head
        draft = args.draft == "true"
        target = args.target or "main"  # GitHub: the default branch, when not told
        meta = {"isDraft": draft, "title": args.title, "notes": args.notes, "target": target}
        (release / "release.json").write_text(json.dumps(meta))
    elif not (release / "release.json").is_file():
        _fail("release not found")
    elif args.action == "upload":
        for name in args.files:
            target = release / "assets" / Path(name).name
            if target.exists() and not args.clobber:
                _fail(f"asset {target.name} already exists (use --clobber)")
            shutil.copyfile(name, target)
    elif args.action == "edit":
        meta = json.loads((release / "release.json").read_text())
        meta["isDraft"] = args.draft == "true"
        (release / "release.json").write_text(json.dumps(meta))
    elif args.action == "download":
        for name in args.pattern:
            shutil.copyfile(release / "assets" / name, Path(args.dir) / name)


if __name__ == "__main__":
    main()
