"""Run checkov and the SDK's rules over synthesized stacks; apply the project's suppressions; report.

checkov (https://www.checkov.io) runs as its own program: it pins old versions of boto3 and botocore,
so it is installed apart from the SDK (`pipx install checkov==3.3.30`, or `./scripts/setup` in this
repository) and found on PATH or through `STACKS_CLOUD_CHECKOV`. It runs offline
(`BC_SKIP_MAPPING=TRUE`, `--skip-download`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks_cloud.core.errors import CloudError, ConfigError, Problem
from stacks_cloud.core.layout import CacheLayout
from stacks_cloud.policy.rules import RULES
from stacks_cloud.policy.suppressions import Suppression

CHECKOV_ENV = "STACKS_CLOUD_CHECKOV"
CHECKOV_VERSION = "3.3.30"
"""The checkov release the gate is tested with."""


@dataclass(frozen=True)
class Finding:
    """One failed check on one resource of one stack."""

    check_id: str
    check_name: str
    stack: str
    address: str
    path: str
    """The resource's construct path (`stack/Api/Api/Stage`), stable where logical ids are not."""
    source: str
    """`checkov` or `stacks-cloud` (the SDK's own rules)."""
    detail: str = ""
    suppressed_by: Suppression | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in self.__dict__.items() if key != "suppressed_by"}
        data["suppressed"] = self.suppressed_by.reason if self.suppressed_by else None
        return data


@dataclass
class GateReport:
    """What the gate found: checkov's passed evaluations, every finding, which ones are suppressed and why."""

    stacks: list[str]
    environment: str
    passed: int = 0
    checks: set[str] = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)

    @property
    def failures(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.suppressed_by is None]

    @property
    def suppressed(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.suppressed_by is not None]

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def results(self) -> int:
        """Every evaluation of a check on a resource (or a stack): passed + failed + suppressed."""
        return self.passed + len(self.findings)

    def _counts(self) -> str:
        return (
            f"{len(self.checks)} checks, {self.results} results: {self.passed} passed,"
            f" {len(self.failures)} failed, {len(self.suppressed)} suppressed"
        )

    def summary(self) -> str:
        """One line, as the ledger records it: `passed: ...` or `failed: ...`."""
        verdict = "passed" if self.ok else "failed"
        text = f"{verdict}: {len(self.stacks)} stack(s), {self._counts()}"
        if self.failures:
            text += " (" + ", ".join(sorted({f"{f.check_id} {f.path}" for f in self.failures})) + ")"
        return text

    def render(self) -> str:
        lines = [f"policy gate ({self.environment}, {len(self.stacks)} stack(s)): {self._counts()}"]
        for finding in self.failures:
            lines.append(f"  FAILED {finding.check_id} {finding.path}: {finding.check_name}")
            if finding.detail:
                lines.append(f"         {finding.detail}")
        by_entry: dict[Suppression, list[Finding]] = {}
        for finding in self.suppressed:
            assert finding.suppressed_by is not None
            by_entry.setdefault(finding.suppressed_by, []).append(finding)
        for entry, findings in by_entry.items():
            checks = ", ".join(sorted({finding.check_id for finding in findings}))
            lines.append(f"  suppressed {checks} on {len({f.path for f in findings})} resource(s): {entry.reason}")
        if self.failures:
            lines.append(
                "Fix the resources, or add a suppression with the check, the resources and a reason to"
                " config/checks.toml."
            )
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "environment": self.environment,
            "stacks": self.stacks,
            "checks": len(self.checks),
            "results": self.results,
            "passed": self.passed,
            "failed": [finding.as_dict() for finding in self.failures],
            "suppressed": [finding.as_dict() for finding in self.suppressed],
        }


class PolicyViolationError(CloudError):
    """The policy gate failed: findings that no suppression accepts. `report` has them all."""

    def __init__(self, report: GateReport) -> None:
        self.report = report
        super().__init__(report.render())


def find_checkov(project_dir: Path | None = None) -> str:
    """The checkov executable: `STACKS_CLOUD_CHECKOV`, else the one `cloud setup` installed in the project's
    `.cache/checkov`, else `checkov` on PATH; `ConfigError` when there is none."""
    explicit = os.environ.get(CHECKOV_ENV)
    if explicit:
        if Path(explicit).is_file() and os.access(explicit, os.X_OK):
            return explicit
        raise ConfigError(
            "policy gate",
            [Problem(CHECKOV_ENV, explicit, "is not an executable file.", "point it at checkov's executable.")],
        )
    installed = CacheLayout(project_dir).installed_checkov() if project_dir is not None else None
    found = str(installed) if installed is not None else shutil.which("checkov")
    if found is None:
        raise ConfigError(
            "policy gate",
            [
                Problem(
                    "checkov",
                    None,
                    "is not installed: the policy gate runs it on every synthesized stack.",
                    f"run `cloud setup` (installs checkov {CHECKOV_VERSION} into the project's .cache/checkov),"
                    f" or install it yourself and set {CHECKOV_ENV}; `--skip-checks` deploys without the gate"
                    " (recorded in the ledger).",
                )
            ],
        )
    return found


def run_gate(
    outdir: Path,
    *,
    environment: str,
    suppressions: list[Suppression],
    checkov: str | None = None,
    timeout: float = 900,
) -> GateReport:
    """Check every stack in `outdir/stacks` (a cdktf.out); suppressions decide what fails."""
    stack_files = sorted((outdir / "stacks").glob("*/cdk.tf.json"))
    report = GateReport(stacks=[path.parent.name for path in stack_files], environment=environment)
    if not stack_files:
        return report
    synthesized = {path.parent.name: json.loads(path.read_text()) for path in stack_files}
    paths = {stack: _construct_paths(body) for stack, body in synthesized.items()}
    for stack, check_id, check_name, address, detail in _checkov(
        checkov or find_checkov(), stack_files, report, timeout
    ):
        report.findings.append(_finding(check_id, check_name, stack, address, paths[stack], "checkov", detail))
    for stack, body in synthesized.items():
        for rule in RULES:
            report.checks.add(rule.check_id)
            found = rule.evaluate(body)
            if not found:
                report.passed += 1  # the rule held for the whole stack: one passed result
            for address, message in found:
                report.findings.append(
                    _finding(rule.check_id, rule.name, stack, address, paths[stack], "stacks-cloud", message)
                )
    report.findings = [_suppress(finding, suppressions, environment) for finding in report.findings]
    return report


def _finding(
    check_id: str, name: str, stack: str, address: str, paths: dict[str, str], source: str, detail: str
) -> Finding:
    address = paths.get(f"address:{address}", address)  # checkov names some resources `resource.<name>`
    return Finding(check_id, name, stack, address, paths.get(address, f"{stack}/{address}"), source, detail)


def _suppress(finding: Finding, suppressions: list[Suppression], environment: str) -> Finding:
    names = (finding.address, finding.path)
    for suppression in suppressions:
        if suppression.matches(finding.check_id, names, environment):
            return Finding(**{**finding.__dict__, "suppressed_by": suppression})
    return finding


def _construct_paths(synthesized: dict[str, Any]) -> dict[str, str]:
    """address -> construct path for resources and data sources, and `address:<checkov's short name>` -> address."""
    paths: dict[str, str] = {}
    for section, prefix in (("resource", ""), ("data", "data.")):
        for kind, items in synthesized.get(section, {}).items():
            for name, body in items.items():
                path = body.get("//", {}).get("metadata", {}).get("path", name)
                paths[f"{prefix}{kind}.{name}"] = path
                # checkov's short names for the same block: `resource.<name>` / `data.<name>`
                paths[f"address:{section}.{name}"] = f"{prefix}{kind}.{name}"
    return paths


def _checkov(
    executable: str, files: list[Path], report: GateReport, timeout: float
) -> list[tuple[str, str, str, str, str]]:
    command = [executable, "-f", *map(str, files), "--framework", "terraform_json", "-o", "json", "--compact"]
    command.append("--skip-download")
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "BC_SKIP_MAPPING": "TRUE", "LOG_LEVEL": "ERROR"},
        )
    except subprocess.TimeoutExpired:
        raise CloudError(f"checkov did not finish within {timeout:g} s") from None
    try:
        data = json.loads(result.stdout)
    except ValueError:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-10:])
        raise CloudError(f"checkov failed (exit code {result.returncode}):\n{tail}") from None
    sections = data if isinstance(data, list) else [data]
    stack_of = {str(path.resolve()): path.parent.name for path in files}
    failed = []
    for section in sections:
        results = section.get("results", {}) if isinstance(section, dict) else {}
        for check in results.get("passed_checks", []):
            report.passed += 1
            report.checks.add(check["check_id"])
        for check in results.get("failed_checks", []):
            report.checks.add(check["check_id"])
            stack = stack_of.get(str(Path(check.get("file_abs_path", "")).resolve()), "?")
            failed.append((stack, check["check_id"], check["check_name"], check["resource"], ""))
    return failed
