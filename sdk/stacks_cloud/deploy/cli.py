"""`cloud`: init, synth, plan, deploy, destroy, status, rollback and bootstrap from the command line.

    cloud init my-infra                     # a new project from the SDK's template
    cloud --env production plan
    cloud --env production deploy --version 1.4.0
    cloud status --json
    cloud --env production destroy          # asks you to type "production" (or pass --yes)

The project is the nearest folder at or above the working directory holding `cdktf.json` (or
`--project DIR`); its config is `config/cloud.py` (or `--config FILE`: a .py defining `CLOUD`, or
.json, relative to the working directory). `python -m stacks_cloud` is the same CLI.
Exit codes: 0 done, 1 the deployment failed, 2 bad config or usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stacks_cloud.core.errors import CloudError, ConfigError
from stacks_cloud.core.secrets import redact_text

if TYPE_CHECKING:  # imported when a command runs: `cloud init` and `--help` never start the cdktf kernel
    from stacks_cloud.config import CloudConfig
    from stacks_cloud.deploy.project import Project

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cloud", description=(__doc__ or "").split("\n\n")[0])
    _global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        _global_options(sub, suppress=True)
        return sub

    init = command("init", "create a new project (cdktf.json, main.py, config, stacks, tests) in DIR")
    init.add_argument("directory", type=Path, help="the folder to create (must be empty or missing)")
    init.add_argument("--name", help="the app name (default: the folder's name, made valid)")
    command("synth", "write cdktf.out/ (like cdktf synth)")
    plan = command("plan", "what a deploy would change, per stack")
    deploy = command("deploy", "run hooks and deploy every stack")
    for sub in (plan, deploy):
        sub.add_argument("--stacks", nargs="+", help="only these stacks")
        sub.add_argument("--concurrency", type=int, default=4, help="stacks at once (default 4)")
    deploy.add_argument("--version", dest="release", help="version label (default: git describe)")
    destroy = command("destroy", "destroy the environment's stacks")
    destroy.add_argument("--yes", action="store_true", help="do not ask (required for production without a terminal)")
    status = command("status", "status and health of the latest (or given) deployment")
    status.add_argument("deployment_id", nargs="?")
    command("rollback", "re-deploy the last good deployment")
    command("bootstrap", "create the S3 state bucket (and lock table) when missing")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.command == "init":
            return _init(args)
        from stacks_cloud.deploy.project import Project

        config_file = args.config.expanduser().resolve() if args.config else None
        project = Project.discover(explicit=args.project)
        os.chdir(project.root)  # as `cdktf synth` runs the app: relative paths are the project's
        environment = args.env or os.environ.get("APP_ENV") or None
        config = project.load_config(environment, config_file=config_file)
        return asyncio.run(_run(args, config, project))
    except ConfigError as error:
        _fail(args, error, "ConfigError")
        return EXIT_USAGE
    except CloudError as error:
        _fail(args, error, type(error).__name__, prefix=f"cloud {args.command} failed: ")
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(args: argparse.Namespace, error: Exception, kind: str, *, prefix: str = "") -> None:
    text = redact_text(str(error))
    print(prefix + text, file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"success": False, "error": text, "type": kind}))


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


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
        "  cdktf synth && pytest",
    )
    return EXIT_OK


async def _run(args: argparse.Namespace, config: CloudConfig, project: Project) -> int:
    from stacks_cloud.deploy.orchestrator import Cloud, history
    from stacks_cloud.deploy.progress import Progress

    progress = Progress(ci=bool(os.environ.get("CI")))
    root = project.root
    if args.command == "synth":
        from stacks_cloud.cdk import App
        from stacks_cloud.stacks import stack_names

        app = App(outdir=str(root / "cdktf.out"))
        project.app.build(config, app=app, project_dir=root)
        app.synth()
        _emit(args, {"stacks": stack_names(config)}, "\n".join(stack_names(config)))
        return EXIT_OK
    if args.command == "plan":
        summaries = await Cloud.plan(
            config, stacks=args.stacks, concurrency=args.concurrency, project_dir=root, app=project.app, on_line=None
        )
        rows = [f"{'stack':<40} {'add':>5} {'change':>7} {'destroy':>8}"]
        for summary in summaries:
            if summary.error:
                rows.append(f"{summary.stack:<40} error: {summary.error.splitlines()[-1] if summary.error else ''}")
            else:
                rows.append(f"{summary.stack:<40} {summary.add:>5} {summary.change:>7} {summary.destroy:>8}")
        _emit(args, [summary.model_dump() for summary in summaries], "\n".join(rows))
        return EXIT_FAILED if any(summary.error for summary in summaries) else EXIT_OK
    if args.command == "deploy":
        result = await Cloud.deploy(
            config,
            version=args.release,
            stacks=args.stacks,
            concurrency=args.concurrency,
            project_dir=root,
            app=project.app,
            on_line=progress,
        )
        lines = [f"deployed {result.deployment_id}" + (f": {result.url}" if result.url else "")]
        lines += [f"  {stack}: {seconds:.0f} s" for stack, seconds in result.timings.items() if stack != "total"]
        _emit(args, result.model_dump(mode="json", exclude={"synthesized_dir"}), "\n".join(lines))
        return EXIT_OK
    if args.command == "destroy":
        if config.is_production and not args.yes:
            if not sys.stdin.isatty():
                print("destroying production needs --yes when there is no terminal to confirm on", file=sys.stderr)
                return EXIT_USAGE
            typed = input(f"This destroys {config.app_name} in production. Type 'production' to go on: ")
            if typed.strip() != "production":
                print("not destroyed", file=sys.stderr)
                return EXIT_USAGE
        await Cloud.destroy(config, project_dir=root, app=project.app, on_line=progress)
        _emit(args, {"destroyed": True}, f"destroyed {config.app_name} {config.environment}")
        return EXIT_OK
    if args.command == "status":
        status = await Cloud.status(config, args.deployment_id, project_dir=root, app=project.app)
        recent = history(config, project_dir=root, limit=5)
        lines = [f"{config.app_name} {config.environment}: {status.status.value}, health {status.health.value}"]
        if status.version:
            lines.append(f"  version {status.version}" + (f" at {status.url}" if status.url else ""))
        lines += [f"  {stack}: {state}" for stack, state in status.stacks.items()]
        lines += [f"  {r['id']}  {r['version']:<12} {r['status']}" for r in recent]
        _emit(args, {**status.model_dump(mode="json"), "history": recent}, "\n".join(lines))
        return EXIT_OK
    if args.command == "rollback":
        result = await Cloud.rollback(config, project_dir=root, app=project.app, on_line=progress)
        _emit(args, result.model_dump(mode="json", exclude={"synthesized_dir"}), f"rolled back: {result.deployment_id}")
        return EXIT_OK
    if args.command == "bootstrap":
        from stacks_cloud.state import bootstrap_state

        if config.state.s3 is None:
            print("bootstrap creates an S3 state bucket: set state.backend to 's3' with state.s3", file=sys.stderr)
            return EXIT_USAGE
        report = bootstrap_state(config.state.s3)
        _emit(args, {"created": report.created, "existing": report.existing}, str(report))
        return EXIT_OK
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
