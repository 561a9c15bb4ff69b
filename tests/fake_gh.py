"""A recording FAKE of the `gh release` commands castoff runs: GitHub cannot be reached here.

State lives under $FAKE_GH_DIR/<owner>/<name>/<tag>/ (release.json and assets/); every call is
appended to $FAKE_GH_DIR/calls.jsonl. With FAKE_GH_NO_DIGEST=1, `view` gives no asset digests
(as for releases made before GitHub computed them), so castoff must download to compare.
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
    out = {"isDraft": meta["isDraft"], "assets": assets}
    sys.stdout.write(json.dumps({k: v for k, v in out.items() if k in fields.split(",")}))


def main() -> None:
    """Act as `gh release view|create|upload|edit|download ... --repo OWNER/NAME`."""
    root = Path(os.environ["FAKE_GH_DIR"])
    with (root / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps(sys.argv[1:]) + "\n")
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
        draft = args.draft == "true"
        meta = {"isDraft": draft, "title": args.title, "notes": args.notes, "target": args.target}
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
