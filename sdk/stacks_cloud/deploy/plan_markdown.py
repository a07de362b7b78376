"""`cloud plan --format markdown`: the plan as a pull request comment or a CI job summary shows it.

Per stack: its counts in one table, then its changed resources with their action and the attributes that
differ (folded in a `<details>`). Secrets are masked as in every other output; table cells are escaped.
"""

from __future__ import annotations

from stacks_cloud.core.secrets import redact_text
from stacks_cloud.models import PlanSummary
from stacks_cloud.terraform.plan import ResourceChange, short_address, show_value


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _attributes(change: ResourceChange) -> str:
    shown = [
        f"`{a.path}`: {_cell(show_value(a.before))} → {_cell(show_value(a.after))}"
        + (" (forces replacement)" if a.forces_replacement else "")
        for a in change.attributes
    ]
    return "<br>".join(shown)


def render_markdown(app: str, environment: str, summaries: list[PlanSummary], *, drift: bool = False) -> str:
    """The plans (or, `drift`, what changed outside Terraform) of `app` in `environment` as Markdown."""
    what = "Drift" if drift else "Plan"
    lines = [f"## {what}: {app} {environment}", ""]
    if drift:
        lines += ["| stack | drifted |", "|---|---:|"]
        lines += [f"| `{s.stack}` | {'error' if s.error else len(s.drift)} |" for s in summaries]
    else:
        lines += ["| stack | add | change | destroy |", "|---|---:|---:|---:|"]
        lines += [
            f"| `{s.stack}` | {'error' if s.error else s.add} | {'' if s.error else s.change} |"
            f" {'' if s.error else s.destroy} |"
            for s in summaries
        ]
    for summary in summaries:
        changes = summary.drift if drift else summary.resources
        if summary.error:
            lines += ["", f"**{summary.stack}**: error: {_cell(summary.error)}"]
            continue
        if not changes:
            continue
        head = (
            f"{len(changes)} drifted"
            if drift
            else f"{summary.add} to add, {summary.change} to change, {summary.destroy} to destroy"
        )
        lines += ["", f"<details><summary><code>{summary.stack}</code>: {head}</summary>", ""]
        if summary.run:
            lines += [f"Terraform Cloud run: {summary.run.get('url')}", ""]
        lines += ["| action | resource | attributes |", "|---|---|---|"]
        lines += [
            f"| {change.action.value} | `{short_address(change.address)}` | {_attributes(change)} |"
            for change in changes
        ]
        lines += ["", "</details>"]
    return redact_text("\n".join(lines) + "\n")
