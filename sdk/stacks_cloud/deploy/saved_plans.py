"""Saved plans: `cloud plan --out DIR` keeps the synthesized stacks and their plans for `cloud deploy --plan DIR`.

`plan.json` in the folder says what they were planned for (app, environment, version, stack selection,
counts); a deploy refuses a folder planned for something else, and terraform refuses a stale plan.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.models import PlanSummary
from stacks_cloud.providers.cdktf_stacks import PLAN_FILE

PLAN_META = "plan.json"
"""What `plan(out=...)` planned: app, environment, version, the stacks and their counts."""


def check_plan_folder(out: Path) -> None:
    """Refuse an `--out` that is a file, or a folder holding something other than saved plans."""
    if out.exists() and not out.is_dir():
        raise ConfigError(
            "command line",
            [Problem("--out", str(out), "is a file, not a folder.", "give a new or empty folder, e.g. plans/.")],
        )
    if out.exists() and any(out.iterdir()) and not (out / PLAN_META).is_file():
        raise ConfigError(
            "command line",
            [Problem("--out", str(out), "is a folder with other files in it.", "give a new or empty folder.")],
        )


def save_plans(
    outdir: Path,
    out: Path,
    config: CloudConfig,
    version: str,
    stacks: list[str] | None,
    summaries: list[PlanSummary],
) -> None:
    """Move the synthesized stacks with their saved plans to `out`, with what they are for (`plan.json`)."""
    if any(summary.error for summary in summaries) or not outdir.is_dir():
        return  # nothing to apply from a plan that failed
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.move(str(outdir), str(out / "cdktf.out"))
    meta = {
        "app": config.app_name,
        "environment": config.environment,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "stacks": stacks,
        "plans": {
            summary.stack: {
                "add": summary.add,
                "change": summary.change,
                "destroy": summary.destroy,
                "saved": (out / "cdktf.out" / "stacks" / summary.stack / PLAN_FILE).is_file(),
            }
            for summary in summaries
        },
    }
    (out / PLAN_META).write_text(json.dumps(meta, indent=2) + "\n")


def read_saved_plans(plan_dir: Path, config: CloudConfig, stacks: list[str] | None) -> Path:
    """The synthesized folder of plans saved by `plan(out=plan_dir)`, checked to be for this app,
    environment and stack selection (a `ConfigError` otherwise)."""
    try:
        meta = json.loads((plan_dir / PLAN_META).read_text())
    except (OSError, ValueError):
        raise ConfigError(
            "command line",
            [
                Problem(
                    "--plan",
                    str(plan_dir),
                    "holds no saved plan.",
                    "write one with `cloud plan --out DIR`, review it, then `cloud deploy --plan DIR`.",
                )
            ],
        ) from None
    problems = [
        Problem(
            "--plan",
            str(plan_dir),
            f"was planned for {key} {meta.get(key)!r}, not {wanted!r}.",
            "plan again for this one, or deploy with the matching --env/--config.",
        )
        for key, wanted in (("app", config.app_name), ("environment", config.environment))
        if meta.get(key) != wanted
    ]
    if (meta.get("stacks") or None) != (stacks or None):
        problems.append(
            Problem(
                "--stacks",
                " ".join(stacks or []) or "(all)",
                f"differs from the stacks the plan was made for ({' '.join(meta.get('stacks') or []) or 'all'}).",
                "deploy the same selection that was planned.",
            )
        )
    ConfigError.raise_if_any("command line", problems)
    return plan_dir / "cdktf.out"
