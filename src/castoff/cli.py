"""The `castoff` command line, which only wires: parse (options), resolve (settings), call, render.

It is the only place where errors become output and exit codes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from castoff import render
from castoff.errors import BuildError, CastoffError, RehearseError
from castoff.options import build_parser
from castoff.settings import Settings, resolve, resolve_build, resolve_workflows

# Commands import what they use when they run: `castoff retag` should not pay for rich's
# progress bars or the build machinery at start-up (start-up was most of a retag's time).
if TYPE_CHECKING:
    from castoff.build.cibuildwheel import ExtensionTools
    from castoff.build.setup import SetupPlan
    from castoff.build.toolchains import HostTools, Probe
    from castoff.config import Config
    from castoff.plan import ReleasePlan
    from castoff.publish.github import ReleaseHost
    from castoff.runner import Runner
    from castoff.settings import ReleaseSettings

Command = Callable[[argparse.Namespace, Settings], int]


class Result(Protocol):
    """What a command returns: typed (castoff.results), with its JSON form."""

    def to_json(self) -> dict[str, Any]:
        """Return the result as JSON data."""


def _config(settings: Settings) -> Config:
    from castoff.config import load  # noqa: PLC0415

    return load(settings.config_path)


def _plan(settings: Settings) -> tuple[Config, ReleasePlan]:
    from castoff.plan import build_plan, select_targets  # noqa: PLC0415

    config = _config(settings)
    only = select_targets(config, settings.targets, source=settings.targets_source)
    return config, build_plan(config, only=only)


def _runner(env: Mapping[str, str]) -> Runner:
    """Return the runner every command uses: commands echoed to stderr, secrets redacted."""
    from castoff.runner import Runner  # noqa: PLC0415

    return Runner(base_env=env, echo=render.say)


def _probe(runner: Runner, settings: Settings) -> Probe:
    """Start asking this machine's tools in the background, while the command goes on."""
    # Only once the config is read and planned (and the command line parsed): bad input runs
    # nothing.
    from castoff.build.toolchains import Probe  # noqa: PLC0415

    return Probe(runner, settings.env, settings.cache_dir)


def _tools(probe: Probe, plan: ReleasePlan) -> HostTools:
    from castoff.build import extension  # noqa: PLC0415

    # `docker info` is the slowest question (seconds where Docker Desktop sleeps).
    return probe.tools(docker=extension.asks_docker(plan))


def _extension_tools(
    runner: Runner, settings: Settings, plan: ReleasePlan, tools: HostTools
) -> ExtensionTools | None:
    """Return what an extension's builds need here, probed only for a plan that has them."""
    if not plan.extensions:
        return None
    from castoff.build import extension  # noqa: PLC0415
    from castoff.config import EXTENSION_METHOD  # noqa: PLC0415

    builder = extension.get(EXTENSION_METHOD)
    return builder.probe(runner, settings.env, settings.cache_dir, docker=tools.docker)


def _show(args: argparse.Namespace, result: Result, human: Callable[[Any], None]) -> int:
    """Print a result: JSON for --json, else what people read."""
    if args.json:
        render.emit_json(result.to_json())
    else:
        human(result)
    return 0


def _cmd_plan(args: argparse.Namespace, settings: Settings) -> int:
    _, plan = _plan(settings)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        sys.stdout.write(plan.to_json())
    elif fmt == "github-matrix":
        # Compact, on one line: what `echo "matrix=$(...)" >> "$GITHUB_OUTPUT"` needs.
        sys.stdout.write(json.dumps(plan.github_matrix(), separators=(",", ":")) + "\n")
    else:
        render.plan_table(plan)
    return 0


def _cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    _, plan = _plan(settings)
    runner = _runner(settings.env)
    probe = _probe(runner, settings)
    from castoff.build.setup import machine_here  # noqa: PLC0415
    from castoff.doctor import diagnose  # noqa: PLC0415

    tools = _tools(probe, plan)
    extension_tools = _extension_tools(runner, settings, plan, tools)
    result = diagnose(plan, tools, settings.env, machine_here(settings.env), extension_tools)
    return _show(args, result, render.doctor_table)


def _cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    _, plan = _plan(settings)
    runner = _runner(settings.env)
    probe = _probe(runner, settings)
    from castoff.build.builder import built_elsewhere  # noqa: PLC0415
    from castoff.build.setup import (  # noqa: PLC0415
        machine_here,
        plan_setup,
        refuse_manual,
        run_setup,
    )

    tools = _tools(probe, plan)
    extension_tools = _extension_tools(runner, settings, plan, tools)
    setup = plan_setup(
        plan,
        tools,
        machine_here(settings.env),
        extension_tools=extension_tools,
        # A named target is set up or refused; unnamed, another OS's own are left to it.
        elsewhere={} if settings.targets else built_elsewhere(plan, tools),
    )
    if args.dry_run:
        # A dry run shows everything, what must be installed by hand too, and fails as
        # the real run would (with --json, one document: the error's, holding the plan).
        if not (args.json and setup.manual):
            _show_setup(args, setup, ran=False)
        refuse_manual(setup)
        return 0
    run_setup(setup, runner)
    _show_setup(args, setup, ran=True)
    return 0


def _show_setup(args: argparse.Namespace, setup: SetupPlan, *, ran: bool) -> None:
    if args.json:
        render.emit_json({**setup.to_json(), "ran": ran})
    else:
        render.setup_summary(setup, ran=ran)


def _cmd_build(args: argparse.Namespace, settings: Settings) -> int:
    _, plan = _plan(settings)
    runner = _runner(settings.env)
    probe = _probe(runner, settings)
    # What the build and its end need is imported while the probe's processes run, when the
    # main thread would only wait for them: the builder (with its options), the result, the
    # table.
    options = resolve_build(args, settings, "out")
    from castoff.build.builder import build_all  # noqa: PLC0415
    from castoff.results import BuildResult  # noqa: PLC0415

    if not args.json:
        render.load_tables()
    tools = _tools(probe, plan)
    with render.build_progress(list(plan.build_folders)) as report:
        outcomes = build_all(
            plan,
            tools=tools,
            runner=runner,
            options=options,
            report=report,
            skip_elsewhere=not settings.targets,  # a named target fails where it cannot build
        )
    result = BuildResult(out=options.out_dir, outcomes=tuple(outcomes))
    if not args.json:
        render.build_table(result)
    if result.failed:
        raise BuildError(
            f"{len(result.failed)} of {len(outcomes)} targets failed: "
            + " ".join(f"[{o.target}] {o.error}" for o in result.failed),
            details=result.to_json(),
        )
    if args.json:
        render.emit_json(result.to_json())
    return 0


def _cmd_audit(args: argparse.Namespace, _: Settings) -> int:
    import dataclasses  # noqa: PLC0415

    from castoff.assemble.audit import audit_error, audit_paths  # noqa: PLC0415

    audited, findings = audit_paths(args.paths, allowed_libraries=frozenset(args.allow_library))
    doc = {"audited": audited, "findings": [dataclasses.asdict(f) for f in findings]}
    if findings:
        raise audit_error(findings, doc)
    if args.json:
        render.emit_json(doc)
    else:
        render.say(f"audited {len(audited)} files: every binary keeps its promises")
    return 0


def _cmd_retag(args: argparse.Namespace, _: Settings) -> int:
    from castoff.assemble.retag import retag_checked  # noqa: PLC0415

    wheels = [str(w) for w in retag_checked(args.wheels, args.add_platform, args.out)]
    # Plain stdout, no rich: retag starts fast. "wheel": the first, as before several were taken.
    doc = {"wheel": wheels[0], "wheels": wheels}
    sys.stdout.write(json.dumps(doc) + "\n" if args.json else "".join(f"{w}\n" for w in wheels))
    return 0


def _cmd_assemble(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.assemble.assembler import assemble, collect  # noqa: PLC0415

    config, plan = _plan(settings)
    manifest = assemble(
        plan,
        config,
        collect(args.in_dirs),
        # Absolute, not resolved: a link given as --out is refused, not followed.
        out_dir=args.out.absolute(),
        previous=args.previous,
        mtime=settings.source_date_epoch,
        runner=_runner(settings.env),
    )
    if args.json:
        render.emit_json(manifest.to_dict())
    else:
        render.release_table(manifest, str(args.out))
    return 0


def _cmd_sign(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.results import SignResult  # noqa: PLC0415
    from castoff.sign.signing import sign_release  # noqa: PLC0415

    manifest = sign_release(
        args.dist,
        _config(settings),
        backends=args.backend or (),
        env=settings.env,
        keys_dir=args.keys,
        runner=_runner(settings.env),
        report=render.say,
    )
    result = SignResult(dist=args.dist, manifest=manifest)
    return _show(args, result, render.sign_summary)


def _cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.sign.verification import verify_release  # noqa: PLC0415

    result = verify_release(
        args.dist,
        _config(settings),
        backends=args.backend or (),
        keys_dir=args.keys,
        runner=_runner(settings.env),
        report=render.say,
        version=args.release_version,
    )
    return _show(args, result, render.verify_summary)


def _cmd_keygen(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.sign.signing import keygen  # noqa: PLC0415

    result = keygen(args.folder, _config(settings), _runner(settings.env))
    return _show(args, result, render.keygen_summary)


def _cmd_preflight(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from castoff.publish.preflight import preflight  # noqa: PLC0415

    config = _config(settings)
    result = preflight(
        args.dist,
        config,
        index_url=args.index_url or config.publish.pypi.index_url,
        runner=_runner(settings.env),
        keys_dir=args.keys,
        previous=args.previous,
        now=datetime.now(UTC),
        report=render.say,
    )
    return _show(args, result, render.preflight_summary)


def _check_source(
    settings: Settings,
    config: Config,
    where: ReleaseSettings,
    runner: Runner,
    host: ReleaseHost | None,
) -> None:
    """Refuse a release whose tag, version and commit disagree (castoff.publish.source)."""
    from castoff.publish.source import check_source  # noqa: PLC0415

    check_source(
        where.tag,
        config.version,
        (config.name, *config.binaries),
        where.commit,
        settings.config_path.parent,
        runner,
        host,
    )


def _cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.publish.github import release_host  # noqa: PLC0415
    from castoff.release import keyed_backends, publish_checked, uploads  # noqa: PLC0415
    from castoff.settings import resolve_release  # noqa: PLC0415

    config = _config(settings)
    runner = _runner(settings.env)
    where = resolve_release(args, config, settings.env)
    # Only the steps that touch GitHub need it (and ask it where the tag is): the index
    # step's job holds no GitHub permission and checks the checkout's tag only.
    host = release_host(where, runner) if {"stage", "finish"} & set(where.steps) else None
    _check_source(settings, config, where, runner, host)
    # Every check passes before the first byte is uploaded, on a resume too; a dry run
    # shows the uploads without making them.
    result = publish_checked(
        args.dist,
        config,
        options=where.options,
        host=host,
        keys_dir=args.keys,
        backends=keyed_backends(
            config, args.keys, render.say, uploads=uploads(where.options, host)
        ),
        steps=where.steps,
        runner=runner,
        env=settings.env,
        report=render.say,
        previous=args.previous,
    )
    return _show(args, result, render.publish_summary)


def _cmd_release(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.publish.github import release_host  # noqa: PLC0415
    from castoff.release import release  # noqa: PLC0415
    from castoff.settings import resolve_release  # noqa: PLC0415

    config, plan = _plan(settings)
    runner = _runner(settings.env)
    where = resolve_release(args, config, settings.env)
    # --no-publish: nothing goes to the host, so it is not asked where the tag is either.
    host = None if args.no_publish else release_host(where, runner)
    # Before the build: a release of the wrong commit or version is refused at once.
    _check_source(settings, config, where, runner, host)
    result = release(
        config,
        plan,
        build_options=None if args.no_build else resolve_build(args, settings, "build_dir"),
        build_dir=args.build_dir.resolve(),
        # Alias archives get the same times whether built here or downloaded (--no-build).
        mtime=settings.source_date_epoch,
        dist=args.out.absolute(),
        options=where.options,
        host=host,
        keys_dir=args.keys,
        publish=not args.no_publish,
        tools=_tools(_probe(runner, settings), plan),
        runner=runner,
        env=settings.env,
        report=render.say,
    )
    if args.json:
        render.emit_json(result.to_json())
    else:
        what = (
            "built, signed and checked: nothing was uploaded (--no-publish)"
            if args.no_publish
            else "dry run done: nothing was uploaded"
            if args.dry_run
            else "released"
        )
        render.say(f"{plan.name} {plan.version}: {what}")
    return 0


def _cmd_rehearse(args: argparse.Namespace, settings: Settings) -> int:
    config, plan = _plan(settings)
    build_options = resolve_build(args, settings, "build_dir")
    runner = _runner(settings.env)
    probe = _probe(runner, settings)
    from castoff.rehearse import rehearse  # noqa: PLC0415

    result = rehearse(
        config,
        plan,
        build_options=build_options,
        work=args.work.absolute(),
        tools=_tools(probe, plan),
        runner=runner,
        env=settings.env,
        report=render.say,
    )
    if result.failed:
        # One JSON document for machines: the error's, which carries the whole result.
        if not args.json:
            render.rehearse_table(result)
        raise RehearseError(
            f"{len(result.failed)} targets failed the rehearsal: {', '.join(result.failed)}.",
            hint="The table (or --json) says what failed for each.",
            details=result.to_json(),
        )
    _show(args, result, render.rehearse_table)
    return 0


def _cmd_ci_generate(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.init import write_workflows  # noqa: PLC0415
    from castoff.workflows import render_all  # noqa: PLC0415

    generated = render_all(_config(settings), resolve_workflows(args, settings))
    write_workflows(args.workflows, generated)
    if args.json:
        render.emit_json({"written": sorted(generated)}, indent=None)
    else:
        render.say(f"wrote {', '.join(sorted(generated))} in {args.workflows}")
    return 0


def _cmd_ci_check(args: argparse.Namespace, settings: Settings) -> int:
    from castoff.init import check_workflows  # noqa: PLC0415
    from castoff.workflows import render_all  # noqa: PLC0415

    generated = render_all(_config(settings), resolve_workflows(args, settings))
    checked = check_workflows(args.workflows, generated)
    if args.json:
        render.emit_json({"checked": checked, "drifted": []}, indent=None)
    else:
        render.say(f"{len(checked)} workflows match what castoff generates")
    return 0


def _cmd_init(args: argparse.Namespace, _: Settings) -> int:
    from castoff.init import init  # noqa: PLC0415

    written = init(args.path, force=args.force)
    if args.json:
        render.emit_json({"written": [str(p) for p in written]}, indent=None)
    else:
        shown = ", ".join(str(p) for p in written) or "none needed"
        render.say(
            f"wrote {len(written)} files: {shown}. Next: `nox -s plan`, then `nox -s rehearse`."
        )
    return 0


COMMANDS: dict[str, Command] = {
    "plan": _cmd_plan,
    "doctor": _cmd_doctor,
    "setup": _cmd_setup,
    "build": _cmd_build,
    "audit": _cmd_audit,
    "retag": _cmd_retag,
    "assemble": _cmd_assemble,
    "sign": _cmd_sign,
    "verify": _cmd_verify,
    "keygen": _cmd_keygen,
    "preflight": _cmd_preflight,
    "publish": _cmd_publish,
    "release": _cmd_release,
    "rehearse": _cmd_rehearse,
    "init": _cmd_init,
    "ci generate": _cmd_ci_generate,
    "ci check": _cmd_ci_check,
}


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run castoff and return its exit code."""
    for stream in (sys.stdout, sys.stderr):
        # A tool's output may hold what a Windows console's codec cannot print: shown escaped.
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    raised: BaseException
    try:
        settings = resolve(args, os.environ if env is None else env)
        name = " ".join(filter(None, (args.command, getattr(args, "ci_command", None))))
        return COMMANDS[name](args, settings)
    except CastoffError as exc:
        error, raised = exc, exc
    except KeyboardInterrupt:
        render.interrupted()
        return 130
    # A failure castoff did not foresee is a bug, but still one paragraph, never a traceback
    # (unless --debug asks for it).
    except Exception as exc:  # noqa: BLE001
        raised = exc
        error = CastoffError(
            f"castoff failed unexpectedly: {type(exc).__name__}: {exc}",
            hint="This is a bug in castoff; please report it with the output of --debug.",
        )
    if args.debug:
        traceback.print_exception(raised)
    render.error(error, as_json=getattr(args, "json", False))
    return error.exit_code


def run() -> None:
    """Console-script entry point."""
    code = main()
    # Everything made is left to the process's end: the collector's last walk over every object
    # (castoff's, twine's, rich's) would add tens of milliseconds to each command.
    gc.freeze()
    sys.exit(code)
