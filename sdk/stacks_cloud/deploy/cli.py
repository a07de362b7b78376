"""`cloud`: init, setup, env, synth, check, plan, drift, deploy, rollback, destroy, status, unlock and bootstrap
from the command line.

    cloud init my-infra                     # a new project from the SDK's template
    cloud --env production check            # the policy gate: checkov and the SDK's rules
    cloud --env production plan --out plans/   # each resource, action and changed attribute; plans saved
    cloud --env production deploy --plan plans/ # apply exactly the reviewed plans
    cloud --env production deploy --version 1.4.0
    cloud drift                             # what changed outside Terraform (exit 2 when anything did)
    cloud status --json
    cloud --env production destroy          # asks you to type "production" (or pass --yes)

The project is the nearest folder at or above the working directory holding `cdktf.json` (or
`--project DIR`); its config is `config/cloud.py`, or `--config FILE` (a .py defining `CLOUD`, or
.json, relative to the working directory), or the `CLOUD_CONFIG` environment variable, or cdktf.json's
`context.configFile` (relative to the project), as `cdktf synth` reads them. `python -m stacks_cloud` is the same CLI.
Exit codes: 0 done, 1 the deployment (or the policy gate) failed, 2 bad config or usage, 130 interrupted.
`plan --detailed-exitcode` and `drift`, as terraform's `-detailed-exitcode`: 0 no changes, 1 error,
2 changes (drift).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from stacks_cloud import __version__
from stacks_cloud.core.errors import CloudError, ConfigError, LedgerError, Problem, RolloutHaltedError
from stacks_cloud.core.secrets import (
    MaskedDescriptors,
    MaskingStream,
    mask_logger,
    redact_text,
    register_secret_environment,
)
from stacks_cloud.core.suggest import did_you_mean

if TYPE_CHECKING:  # imported when a command runs: `cloud init` and `--help` never start the cdktf kernel
    from stacks_cloud.config import CloudConfig
    from stacks_cloud.deploy.progress import Progress
    from stacks_cloud.deploy.project import Project
    from stacks_cloud.models import DeploymentResult, DeploymentStatus

    Command = Callable[[argparse.Namespace, CloudConfig, Project], Awaitable[int]]
    """One `cloud` command: its arguments, the project's config and the project; its exit code."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CHANGES = 2
"""`plan --detailed-exitcode` and `drift`: there are changes (drift), as terraform's `-detailed-exitcode`."""


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, accepted before or after the command name."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--env", default=default, help="environment (default: APP_ENV, else the config's, else development)"
    )
    parser.add_argument(
        "--config", type=Path, default=default, help="config file (default: the project's config/cloud.py)"
    )
    parser.add_argument(
        "--project", type=Path, default=default, help="project folder (default: the nearest with cdktf.json)"
    )
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS if suppress else False, help="print JSON on stdout"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", default=argparse.SUPPRESS if suppress else False, help="log steps"
    )


def _deploy_options(deploy: argparse.ArgumentParser) -> None:
    deploy.add_argument("--version", dest="release", help="version label (default: git describe)")
    deploy.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="seconds one stack may take, a Terraform Cloud run canceled then even while queued (default 1800)",
    )
    deploy.add_argument(
        "--plan",
        "--plan-file",
        dest="plan_dir",
        type=Path,
        metavar="DIR",
        help="apply exactly the plans `cloud plan --out DIR` saved (terraform refuses them once stale)",
    )
    deploy.add_argument(
        "--force",
        action="store_true",
        help="apply every stack (default: stacks identical to the live deployment's are skipped)",
    )
    deploy.add_argument(
        "--skip-checks",
        action="store_true",
        help="deploy without the policy gate (recorded in the ledger; default: the gate runs first)",
    )
    deploy.add_argument(
        "--wave",
        type=int,
        metavar="N",
        help="roll out up to and including wave N of multiRegion.rollout, then stop (recorded partial; the next"
        " deploy continues)",
    )
    deploy.add_argument(
        "--regions",
        nargs="+",
        metavar="REGION",
        help="roll out only these regions, in their waves' order (recorded partial unless every region)",
    )
    deploy.add_argument(
        "--rollback-on-interrupt",
        action="store_true",
        help="run the on-error hooks (and their rollback) when the deploy is interrupted (default: do not)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cloud", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"cloud (stacks-cloud) {__version__}")
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _global_options(sub, suppress=True)
        return sub

    init = command("init", "create a new project (cdktf.json, main.py, config, stacks, tests) in DIR")
    init.add_argument("directory", type=Path, help="the folder to create (must be empty or missing)")
    init.add_argument("--name", help="the app name (default: the folder's name, made valid)")
    setup = command(
        "setup",
        "install the project's tools: terraform's CLI config (a provider mirror when found) and checkov in .cache",
    )
    setup.add_argument("--no-checkov", action="store_true", help="do not install checkov (default: install it)")
    command("env", 'print the shell lines for plain cdktf and terraform in this project: eval "$(cloud env)"')
    synth = command("synth", "write cdktf.out/ (like cdktf synth)")
    synth.add_argument(
        "--watch", action="store_true", help="stay running: re-synthesize on every change, say which stacks changed"
    )
    command("check", "the policy gate: checkov and the SDK's rules on every stack, with config/checks.toml")
    plan = command("plan", "what a deploy would change: each resource, its action, the attributes that differ")
    plan.add_argument("--out", type=Path, help="keep the synthesized stacks and saved plans here, for deploy --plan")
    plan.add_argument(
        "--detailed-exitcode", action="store_true", help="exit 0 no changes, 2 changes, 1 error (as terraform)"
    )
    plan.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="markdown: per stack, counts and changed resources and attributes, for a pull request comment or a"
        " CI job summary (default: text)",
    )
    drift = command("drift", "what changed outside Terraform, per stack (refresh-only plans; exit 2 on drift)")
    deploy = command("deploy", "run hooks and deploy every stack")
    for sub in (plan, drift, deploy):
        sub.add_argument("--stacks", nargs="+", help="only these stacks")
        sub.add_argument("--concurrency", type=int, default=4, help="stacks at once (default 4)")
    _deploy_options(deploy)
    destroy = command("destroy", "destroy the environment's stacks")
    destroy.add_argument("--yes", action="store_true", help="do not ask (required without a terminal)")
    status = command("status", "what is live, what is in progress, and the history")
    status.add_argument("deployment_id", nargs="?")
    rollback = command("rollback", "re-deploy the last good deployment")
    rollback.add_argument(
        "--recreate", action="store_true", help="after a destroy: deploy the destroyed deployment again"
    )
    unlock = command("unlock", "remove a stale environment lock, or stacks' terraform state locks (--stack)")
    unlock.add_argument("--stack", dest="unlock_stacks", action="append", metavar="NAME", help="a stack's state lock")
    unlock.add_argument("--yes", action="store_true", help="do not ask (required without a terminal)")
    command("bootstrap", "create the S3 state bucket (and lock table), or the Terraform Cloud workspaces, when missing")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The `cloud` command. Never raises: every failure is a message and an exit code (see the module doc)."""
    arguments = sys.argv[1:] if argv is None else argv
    try:
        with masked_output():
            return _main(arguments)
    except BrokenPipeError:  # `cloud status | head`: the reader left; nothing more to say
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


class UsageError(Exception):
    """A command line argparse refuses."""


class _Parser(argparse.ArgumentParser):
    """argparse, raising `UsageError` (printed by `main`, as JSON too under --json) instead of exiting."""

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            suggestion = did_you_mean(choice[1], re.findall(r"'([^']*)'", choice[2]))
            message = f"{message}{'; ' + suggestion if suggestion else ''}"
        raise UsageError(f"{self.format_usage().strip()}\n{self.prog}: error: {message}")


@contextlib.contextmanager
def masked_output() -> Iterator[None]:
    """Everything written to stdout and stderr passes through the secrets masker: the process's own output
    (hooks' prints, logs) and, at the file descriptors, what child processes write (a hook's subprocess)."""
    if isinstance(sys.stdout, MaskingStream):
        yield
        return
    original = sys.stdout, sys.stderr
    with MaskedDescriptors() as descriptors:
        sys.stdout = MaskingStream(sys.stdout, tty=descriptors.tty.get(1) if _is_fd(sys.stdout, 1) else None)
        sys.stderr = MaskingStream(sys.stderr, tty=descriptors.tty.get(2) if _is_fd(sys.stderr, 2) else None)
        try:
            yield
        finally:
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            sys.stdout, sys.stderr = original


def _is_fd(stream: object, descriptor: int) -> bool:
    """Whether `stream` writes to file descriptor `descriptor` (not a test's in-memory capture)."""
    try:
        return bool(stream.fileno() == descriptor)  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False


def _main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as error:
        print(error, file=sys.stderr)
        if "--json" in argv:
            print(json.dumps({"success": False, "error": str(error).splitlines()[-1], "type": "UsageError"}))
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,  # the masking stream
    )
    mask_logger(logging.getLogger("stacks_cloud"))
    register_secret_environment()  # before the config loads: its errors and every hook's output are masked
    # What hooks log through `context.logger` is theirs to say (the guide's console.log): shown without -v.
    logging.getLogger("stacks_cloud.hooks").setLevel(logging.INFO)
    try:
        if args.command == "init":
            return _init(args)
        from stacks_cloud.config.files import CONFIG_ENV
        from stacks_cloud.deploy.project import Project, project_root

        if args.command in ("setup", "env"):
            return _tools(args, project_root(explicit=args.project))

        given = args.config or (Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
        option = "--config" if args.config else CONFIG_ENV
        config_file = given.expanduser().resolve() if given else None
        project = Project.discover(explicit=args.project)
        os.chdir(project.root)  # as `cdktf synth` runs the app: relative paths are the project's
        if config_file is None:
            config_file, option = project.context_config_file(), "cdktf.json context.configFile"
        environment = args.env or os.environ.get("APP_ENV") or None
        if args.command == "synth" and args.watch:
            return _watch(project, environment, config_file)
        config = project.load_config(environment, config_file=config_file, config_option=option)
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return run_interruptible(_run(args, config, project))
    except ConfigError as error:
        _fail(args, error, "ConfigError")
        return EXIT_USAGE
    except LedgerError as error:  # the user must act (move a damaged file aside, fix permissions)
        _fail(args, error, "LedgerError", prefix=f"cloud {args.command} failed: ")
        return EXIT_USAGE
    except CloudError as error:
        _fail(args, error, type(error).__name__, prefix=f"cloud {args.command} failed: ")
        return EXIT_FAILED
    except (KeyboardInterrupt, asyncio.CancelledError):
        _fail(args, RuntimeError("interrupted"), "Interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise
    except Exception as error:  # a bug of ours or of a user's hook outside the hooks' own handling
        if args.verbose:
            traceback.print_exc()
        _fail(
            args,
            error,
            type(error).__name__,
            prefix=f"cloud {args.command} failed unexpectedly ({type(error).__name__}, run with --verbose for the"
            " traceback): ",
        )
        return EXIT_FAILED


def run_interruptible(main: Coroutine[Any, Any, int]) -> int:
    """Run `main` with two-stage interruption (SIGINT or SIGTERM).

    First: `main` is cancelled; no new stack starts, and running terraform finishes its stack, so
    nothing is left half-created (the AWS provider's own graceful stop cancels its API calls in
    flight); then exit 130. Second: running terraform gets SIGINT, once. Later ones only say so.
    """
    from stacks_cloud.terraform.process import force_interrupt, reset_interrupt

    reset_interrupt()
    loop = asyncio.new_event_loop()
    task = loop.create_task(main)
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        name = signal.Signals(signum).name
        if len(received) == 1:
            print(
                f"\n{name}: stopping. No new stack starts; running terraform finishes its stack, so that nothing is"
                " left half-created. Press Ctrl-C again to interrupt terraform now.",
                file=sys.stderr,
                flush=True,
            )
            task.cancel()
        elif len(received) == 2:
            print(
                f"\n{name} again: interrupting terraform. It stops after the operations in flight; resources it was"
                " creating may be left tainted (replaced by the next deploy) or created but unrecorded (the next"
                " deploy names them).",
                file=sys.stderr,
                flush=True,
            )
            force_interrupt()
        else:
            print("still stopping: terraform is saving its state...", file=sys.stderr, flush=True)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if not received:
            raise
        print(
            "interrupted: the deployment is recorded as interrupted; run the command again to continue", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()


def _fail(args: argparse.Namespace, error: Exception, kind: str, *, prefix: str = "") -> None:
    notes = [redact_text(note) for note in getattr(error, "__notes__", [])]  # what happened after (a rollback)
    text = redact_text(str(error))
    print(prefix + "\n".join([text, *notes]), file=sys.stderr)
    if getattr(args, "json", False):
        data: dict[str, Any] = {"success": False, "error": text, "type": kind}
        if notes:
            data["notes"] = notes
        if isinstance(error, RolloutHaltedError):
            data["halted"] = {
                "wave": error.wave,
                "region": error.region,
                "gate": error.gate,
                "reason": redact_text(error.reason),
                "rolled_back_to": error.rolled_back_to,
            }
        data |= getattr(error, "deployment", None) or {}
        stack = getattr(error, "stack", None)
        if stack:
            data["stack"] = stack
        progress = getattr(args, "progress", None)
        if progress is not None and progress.rows:
            data["stacks"] = progress.as_dict()
        print(json.dumps(data, default=str))


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


def _confirm(args: argparse.Namespace, question: str, answer: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        print(f"{question} Run with --yes to confirm without a terminal.", file=sys.stderr)
        return False
    return input(f"{question} Type '{answer}' to go on: ").strip() == answer


async def _unlock(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    from stacks_cloud.deploy.orchestrator import Cloud

    root = project.root
    holder, state_locks = await Cloud.locks(config, project_dir=root, app=project.app)
    if args.unlock_stacks:
        chosen = [lock for lock in state_locks if lock.stack in args.unlock_stacks]
        if not chosen:
            _emit(args, {"removed": []}, "no state lock on " + ", ".join(args.unlock_stacks))
            return EXIT_OK
        listing = "\n".join(f"  - {lock.describe()}" for lock in chosen)
        if not _confirm(
            args, f"Remove these terraform state locks?\n{listing}\nOnly if no terraform still runs.", "unlock"
        ):
            return EXIT_USAGE
        report = await Cloud.unlock(config, stacks=args.unlock_stacks, project_dir=root, app=project.app)
        removed = [lock.describe() for lock in report.state_locks]
        _emit(args, {"removed": removed}, "\n".join(["removed:", *(f"  - {text}" for text in removed)]))
        return EXIT_OK
    if holder is None:
        _emit(args, {"removed": None}, f"{config.app_name} {config.environment} is not locked")
        return EXIT_OK
    state = "its process is gone" if holder.is_gone() else "IT LOOKS ALIVE: removing it lets two runs write at once"
    if not _confirm(args, f"Remove the lock held by {holder.describe()} ({state})?", "unlock"):
        return EXIT_USAGE
    report = await Cloud.unlock(config, project_dir=root, app=project.app)
    removed_holder = report.environment_lock
    _emit(
        args,
        {"removed": removed_holder.as_dict() if removed_holder else None},
        f"removed the lock of {removed_holder.describe()}" if removed_holder else "the lock was already gone",
    )
    return EXIT_OK


def _init(args: argparse.Namespace) -> int:
    from stacks_cloud.deploy.scaffold import init_project

    created = init_project(args.directory, app_name=args.name)
    files = sorted(str(path.relative_to(created.root)) for path in created.files)
    _emit(
        args,
        {"project": str(created.root), "app_name": created.app_name, "files": files},
        f"created {created.app_name} in {created.root} ({len(files)} files). Next:\n"
        f"  cd {args.directory}\n"
        "  python -m pip install -e '.[test]'   # stacks-cloud, pytest\n"
        "  npm install                          # the cdktf CLI\n"
        "  cloud setup                          # checkov, terraform's CLI config (offline: a provider mirror)\n"
        '  eval "$(cloud env)"                  # cdktf on PATH, terraform set up as `cloud` runs it\n'
        "  cdktf synth && pytest",
    )
    return EXIT_OK


def _tools(args: argparse.Namespace, root: Path) -> int:
    from stacks_cloud.deploy.tools import project_environment, setup

    try:
        if args.command == "env":
            environment = project_environment(root)
            _emit(args, environment.as_dict(), environment.shell())
            return EXIT_OK
        outcome = setup(root, checkov=not args.no_checkov, say=lambda line: print(line, file=sys.stderr))
    except ValueError:  # TF_PROVIDER_MIRROR that is not a mirror
        problem = Problem(
            "TF_PROVIDER_MIRROR",
            os.environ.get("TF_PROVIDER_MIRROR"),
            "is not a provider mirror (no registry.terraform.io folder inside).",
            "point it at the folder holding registry.terraform.io/, or unset it to use the public registry.",
        )
        raise ConfigError("cloud " + args.command, [problem]) from None
    _emit(args, outcome.as_dict(), 'ready. Next: eval "$(cloud env)", then cdktf synth, cloud check, cloud deploy')
    return EXIT_OK


async def _run(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    command = _COMMANDS.get(args.command)
    if command is None:
        raise AssertionError(args.command)
    return await command(args, config, project)


async def _synth(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    from stacks_cloud.providers.registry import resolve_provider
    from stacks_cloud.stacks import stack_names
    from stacks_cloud.stacks.app import synth_atomically

    resolve_provider(config)  # a registered provider that cannot deploy is refused here, not at deploy time
    root = project.root
    synth_atomically(root / "cdktf.out", lambda app: project.app.build(config, app=app, project_dir=root))
    _emit(args, {"stacks": stack_names(config)}, "\n".join(stack_names(config)))
    return EXIT_OK


async def _check(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    from stacks_cloud.deploy.orchestrator import Cloud

    gate = await Cloud.check(config, project_dir=project.root, app=project.app)
    if gate is None:
        _emit(args, {"ok": True, "applicable": False}, f"provider {config.driver!r} writes no Terraform to check")
        return EXIT_OK
    _emit(args, gate.as_dict(), gate.render())
    return EXIT_OK if gate.ok else EXIT_FAILED


async def _plan(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    """plan and drift: each stack's resources and attributes; exit 2 for changes with --detailed-exitcode
    (drift: always), 1 when a stack could not be planned."""
    from stacks_cloud.deploy.orchestrator import Cloud
    from stacks_cloud.deploy.progress import Progress

    drift = args.command == "drift"
    # Each stack's phases on stderr as they happen (the live view at a terminal, a line each in a pipe or
    # CI): stdout carries only the plan, for a file or a pull request comment.
    progress = Progress(ci=bool(os.environ.get("CI")))
    common: dict[str, Any] = {
        "stacks": args.stacks,
        "concurrency": args.concurrency,
        "app": project.app,
        "on_event": progress.event,
    }
    with progress:
        if drift:
            summaries = await Cloud.drift(config, project_dir=project.root, **common)
        else:
            out = args.out.resolve() if args.out else None
            summaries = await Cloud.plan(config, project_dir=project.root, out=out, **common)
    changed = any(summary.drift if drift else summary.has_changes for summary in summaries)
    failed = any(summary.error for summary in summaries)
    lines = [line for summary in summaries for line in summary.render(drift=drift)]
    if not drift and args.out and not failed:
        lines.append(f"saved: apply exactly this with `cloud deploy --plan {args.out}`")
    data = {
        "app": config.app_name,
        "environment": config.environment,
        "changes" if not drift else "drifted": changed,
        "stacks": [summary.model_dump(mode="json") for summary in summaries],
    }
    text = "\n".join(lines)
    if getattr(args, "format", "text") == "markdown":
        from stacks_cloud.deploy.plan_markdown import render_markdown

        text = render_markdown(config.app_name, config.environment, summaries, drift=drift).rstrip("\n")
    _emit(args, data, text)
    if failed:
        return EXIT_FAILED
    return EXIT_CHANGES if changed and (drift or args.detailed_exitcode) else EXIT_OK


async def _status(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    from stacks_cloud.deploy.orchestrator import Cloud, history

    status = await Cloud.status(config, args.deployment_id, project_dir=project.root, app=project.app)
    recent = history(config, project_dir=project.root, limit=5)
    _emit(args, {**status.model_dump(mode="json"), "history": recent}, _render_status(config, status, recent))
    return EXIT_OK


async def _bootstrap(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    from stacks_cloud.providers.registry import resolve_provider
    from stacks_cloud.state import backend_for

    backend = backend_for(config)
    outcome = backend.bootstrap(config, resolve_provider(config).stack_names(config))
    if outcome is None:
        print(
            f"bootstrap creates what a state backend needs once (the S3 state bucket, the Terraform Cloud"
            f" workspaces); the {backend.name} backend of this config needs nothing created",
            file=sys.stderr,
        )
        return EXIT_USAGE
    _emit(args, outcome.as_dict(), outcome.summary)
    return EXIT_OK


def _watch(project: Project, environment: str | None, config_file: Path | None) -> int:
    from stacks_cloud.deploy.watch import watch

    def load(current: Project) -> CloudConfig:
        config = current.load_config(environment, config_file=config_file)
        for warning in config.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        return config

    watch(project, load, config_file=config_file, say=lambda line: print(line, flush=True))
    print("stopped watching", file=sys.stderr)
    return EXIT_OK


async def _change(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    """deploy, rollback, destroy: with the live view (or CI lines), then the summary table."""
    from stacks_cloud.deploy.progress import Progress

    progress = Progress(ci=bool(os.environ.get("CI")))
    args.progress = progress  # a failure's JSON carries each stack's counts
    if args.command == "destroy" and not _destroy_confirmed(args, config):
        return EXIT_USAGE
    result: DeploymentResult | None = None
    try:
        with progress:
            result = await _change_with(args, config, project, progress)
    finally:
        if not args.json:
            progress.print_summary(result.outputs if result is not None else None)
    if result is None:
        _emit(
            args,
            {"destroyed": True, "environment": config.environment, "stacks": progress.as_dict()},
            f"destroyed {config.app_name} {config.environment}",
        )
        return EXIT_OK
    data = {
        **result.model_dump(mode="json", exclude={"synthesized_dir"}),
        "environment": config.environment,
        "version": result.version,
        "stacks": progress.as_dict(),
    }
    verb = "rolled back" if args.command == "rollback" else "deployed"
    if result.partial:
        verb = "rolled out part of"
        data["next"] = "`cloud deploy` of the same release continues the rollout"
    text = f"{verb} {result.deployment_id}" + (f": {result.url}" if result.url else "")
    if result.partial:
        text += f"\nnext: {data['next']}"
    _emit(args, data, text)
    return EXIT_OK


def _destroy_confirmed(args: argparse.Namespace, config: CloudConfig) -> bool:
    """An environment is destroyed only with --yes, or after typing its name at a terminal (every environment:
    development holds data too)."""
    if args.yes:
        return True
    environment = config.environment
    if not sys.stdin.isatty():
        print(
            f"destroying {config.app_name} {environment} needs --yes when there is no terminal to confirm on",
            file=sys.stderr,
        )
        return False
    typed = input(f"This destroys {config.app_name} in {environment}. Type {environment!r} to go on: ")
    if typed.strip() != environment:
        print("not destroyed", file=sys.stderr)
        return False
    return True


async def _change_with(
    args: argparse.Namespace, config: CloudConfig, project: Project, progress: Progress
) -> DeploymentResult | None:
    """Run the command's `Cloud` call with the live view; None for a destroy."""
    from stacks_cloud.deploy.orchestrator import Cloud

    view: dict[str, Any] = {"project_dir": project.root, "app": project.app, "on_line": progress}
    view["on_event"] = progress.event
    if args.command == "destroy":
        await Cloud.destroy(config, **view)
        return None
    if args.command == "rollback":
        return await Cloud.rollback(config, recreate=args.recreate, **view)
    return await Cloud.deploy(
        config,
        version=args.release,
        stacks=args.stacks,
        concurrency=args.concurrency,
        rollback_on_interrupt=args.rollback_on_interrupt,
        checks=not args.skip_checks,
        plan_dir=args.plan_dir.resolve() if args.plan_dir else None,
        force=args.force,
        timeout=args.timeout,
        wave=args.wave,
        regions=args.regions,
        **view,
    )


_COMMANDS: dict[str, Command] = {
    "synth": _synth,
    "check": _check,
    "plan": _plan,
    "drift": _plan,
    "deploy": _change,
    "rollback": _change,
    "destroy": _change,
    "status": _status,
    "unlock": _unlock,
    "bootstrap": _bootstrap,
}


def _render_status(config: CloudConfig, status: DeploymentStatus, recent: list[dict[str, Any]]) -> str:
    live = f"live: {status.deployment_id}" if status.deployment_id else "nothing live"
    lines = [f"{config.app_name} {config.environment}: {status.status.value}, health {status.health.value} ({live})"]
    if status.health_reason and not status.regions:
        lines.append(f"  why: {status.health_reason}")
    if status.version:
        lines.append(f"  version {status.version}" + (f" at {status.url}" if status.url else ""))
    for stack in status.regions:
        where = stack.region or "global"
        lines.append(f"  {where:<16} {stack.stack}: {stack.status}, health {stack.health.value}")
        if stack.health_reason:
            lines.append(f"  {'':<16}   why {stack.health_reason}")
        if stack.url:
            lines.append(f"  {'':<16}   url {stack.url}")
        if stack.run:
            lines.append(f"  {'':<16}   applied {stack.run.get('url')}")
        for name, value in sorted(stack.outputs.items()):
            if name not in ("ApiUrl", "Url"):
                lines.append(f"  {'':<16}   {name} = {value}")
    if not status.regions:
        lines += [f"  {stack}: {state}" for stack, state in status.stacks.items()]
    if status.unfinished is not None:
        unfinished = status.unfinished
        lines.append(
            f"  in the cloud from {unfinished.status} deployment {unfinished.deployment_id} (version"
            f" {unfinished.version}), applied although it did not complete:"
        )
        for applied_stack, run in unfinished.applied.items():
            outputs = ", ".join(f"{name} = {value}" for name, value in sorted(run["outputs"].items()))
            lines.append(f"    {applied_stack}: {run['status']}" + (f" ({outputs})" if outputs else ""))
        if unfinished.error:
            lines.append(f"    why it stopped: {unfinished.error.splitlines()[0]}")
        lines.append(f"    next: {unfinished.next_step}")
    if status.lock:
        holder = status.lock
        state = "its process is gone: the next deploy records it interrupted" if holder["stale"] else "running"
        lines.append(
            f"  lock: {holder['operation']} {holder['deployment_id']} by {holder['user']}@{holder['host']}"
            f" (pid {holder['pid']}), {state}"
        )
    width = max((len(str(r["version"])) for r in recent), default=0)  # columns line up, whatever the versions
    lines.append("  history:")
    for record in recent:
        lines.append(f"    {record['id']}  {record['version']:<{width}}  {record['status']}")
        if record.get("rollout"):
            lines.append(f"      rollout: {_rollout_summary(record['rollout'])}")
    return "\n".join(lines)


def _rollout_summary(rollout: dict[str, Any]) -> str:
    """One line: each wave's regions and how it ended, why a rollout halted and what came of it."""
    parts = []
    for wave in rollout.get("waves") or []:
        state = {"pending": "not started"}.get(wave["status"], wave["status"])
        baked = f" {wave['baked_seconds']:g}s" if wave.get("baked_seconds") is not None else ""
        parts.append(f"wave {wave['wave']} ({', '.join(wave['regions'])}) {state}{baked}")
    text = ", ".join(parts)
    halted = rollout.get("halted")
    if halted:
        text += f"; gate {halted['gate']} failed in {halted['region']}: {halted['reason']}"
    if rollout.get("continues"):
        text += f"; continued {rollout['continues']}"
    return text


if __name__ == "__main__":
    sys.exit(main())
