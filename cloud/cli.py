"""`cloud`: synth, plan, deploy, destroy, status, rollback and bootstrap from the command line.

    cloud --env production plan
    cloud --env production deploy --version 1.4.0
    cloud status --json
    cloud --env production destroy          # asks you to type "production" (or pass --yes)

The config is `config/cloud.py` of the project (`--config FILE` for another Python file defining
`CLOUD`, or a JSON file). Exit codes: 0 done, 1 the deployment failed, 2 bad config or usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import runpy
import sys
from pathlib import Path
from typing import Any

from cloud.orchestrator import PROJECT_DIR, Cloud, history
from cloud.progress import Progress
from config.schema import CloudConfig
from core.errors import CloudError, ConfigError
from core.secrets import redact_text


def load(path: Path | None, environment: str | None) -> CloudConfig:
    """The config from `path` (a .py file with `CLOUD`, or .json), else the project's `config/cloud.py`."""
    if path is None:
        from config.cloud import load_config

        return load_config(environment)
    if path.suffix == ".json":
        data: dict[str, Any] = json.loads(path.read_text())
    else:
        namespace = runpy.run_path(str(path))
        if "CLOUD" not in namespace:
            raise SystemExit(f"cloud: {path} defines no CLOUD dict (as config/cloud.py does)")
        data = dict(namespace["CLOUD"])
    if environment:
        data["environment"] = environment
    return CloudConfig.model_validate(data)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cloud", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", help="environment (default: APP_ENV, else the config's, else development)")
    parser.add_argument("--config", type=Path, help="config file (default: config/cloud.py)")
    parser.add_argument("--project", type=Path, help="project folder with cdktf.json (default: this project)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    parser.add_argument("--verbose", "-v", action="store_true", help="log hooks and steps")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("synth", help="write cdktf.out/ (like cdktf synth)")
    plan = commands.add_parser("plan", help="what a deploy would change, per stack")
    deploy = commands.add_parser("deploy", help="run hooks and deploy every stack")
    for sub in (plan, deploy):
        sub.add_argument("--stacks", nargs="+", help="only these stacks")
        sub.add_argument("--concurrency", type=int, default=4, help="stacks at once (default 4)")
    deploy.add_argument("--version", dest="release", help="version label (default: git describe)")
    destroy = commands.add_parser("destroy", help="destroy the environment's stacks")
    destroy.add_argument("--yes", action="store_true", help="do not ask (required for production without a terminal)")
    status = commands.add_parser("status", help="status and health of the latest (or given) deployment")
    status.add_argument("deployment_id", nargs="?")
    commands.add_parser("rollback", help="re-deploy the last good deployment")
    commands.add_parser("bootstrap", help="create the S3 state bucket (and lock table) when missing")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    environment = args.env or os.environ.get("APP_ENV") or None
    project = (args.project or (Path.cwd() if (Path.cwd() / "cdktf.json").is_file() else PROJECT_DIR)).resolve()
    try:
        config = load(args.config, environment)
        return asyncio.run(_run(args, config, project))
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except CloudError as error:
        print(f"cloud {args.command} failed: {redact_text(str(error))}", file=sys.stderr)
        if args.json:
            print(json.dumps({"success": False, "error": redact_text(str(error)), "type": type(error).__name__}))
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _emit(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2, default=str) if args.json else text)


async def _run(args: argparse.Namespace, config: CloudConfig, project: Path) -> int:
    progress = Progress(ci=bool(os.environ.get("CI")))
    if args.command == "synth":
        from cdk import App
        from stacks import build_app, stack_names

        app = App(outdir=str(project / "cdktf.out"))
        build_app(config, app=app, project_dir=project)
        app.synth()
        _emit(args, {"stacks": stack_names(config)}, "\n".join(stack_names(config)))
        return 0
    if args.command == "plan":
        summaries = await Cloud.plan(
            config, stacks=args.stacks, concurrency=args.concurrency, project_dir=project, on_line=None
        )
        rows = [f"{'stack':<40} {'add':>5} {'change':>7} {'destroy':>8}"]
        for summary in summaries:
            if summary.error:
                rows.append(f"{summary.stack:<40} error: {summary.error.splitlines()[-1] if summary.error else ''}")
            else:
                rows.append(f"{summary.stack:<40} {summary.add:>5} {summary.change:>7} {summary.destroy:>8}")
        _emit(args, [summary.model_dump() for summary in summaries], "\n".join(rows))
        return 1 if any(summary.error for summary in summaries) else 0
    if args.command == "deploy":
        result = await Cloud.deploy(
            config,
            version=args.release,
            stacks=args.stacks,
            concurrency=args.concurrency,
            project_dir=project,
            on_line=progress,
        )
        lines = [f"deployed {result.deployment_id}" + (f": {result.url}" if result.url else "")]
        lines += [f"  {stack}: {seconds:.0f} s" for stack, seconds in result.timings.items() if stack != "total"]
        _emit(args, result.model_dump(mode="json", exclude={"synthesized_dir"}), "\n".join(lines))
        return 0
    if args.command == "destroy":
        if config.is_production and not args.yes:
            if not sys.stdin.isatty():
                print("destroying production needs --yes when there is no terminal to confirm on", file=sys.stderr)
                return 2
            typed = input(f"This destroys {config.app_name} in production. Type 'production' to go on: ")
            if typed.strip() != "production":
                print("not destroyed", file=sys.stderr)
                return 2
        await Cloud.destroy(config, project_dir=project, on_line=progress)
        _emit(args, {"destroyed": True}, f"destroyed {config.app_name} {config.environment}")
        return 0
    if args.command == "status":
        status = await Cloud.status(config, args.deployment_id, project_dir=project)
        recent = history(config, project_dir=project, limit=5)
        lines = [f"{config.app_name} {config.environment}: {status.status.value}, health {status.health.value}"]
        if status.version:
            lines.append(f"  version {status.version}" + (f" at {status.url}" if status.url else ""))
        lines += [f"  {stack}: {state}" for stack, state in status.stacks.items()]
        lines += [f"  {r['id']}  {r['version']:<12} {r['status']}" for r in recent]
        _emit(args, {**status.model_dump(mode="json"), "history": recent}, "\n".join(lines))
        return 0
    if args.command == "rollback":
        result = await Cloud.rollback(config, project_dir=project, on_line=progress)
        _emit(args, result.model_dump(mode="json", exclude={"synthesized_dir"}), f"rolled back: {result.deployment_id}")
        return 0
    if args.command == "bootstrap":
        from state import bootstrap_state

        if config.state.s3 is None:
            print("bootstrap creates an S3 state bucket: set state.backend to 's3' with state.s3", file=sys.stderr)
            return 2
        report = bootstrap_state(config.state.s3)
        _emit(args, {"created": report.created, "existing": report.existing}, str(report))
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
