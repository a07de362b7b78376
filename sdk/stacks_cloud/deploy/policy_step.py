"""The policy gate as a step of a deployment: run on what a deploy is about to apply, before any stack.

It runs after the pre-deploy hooks (they may build the code). A failure is recorded and raised
(`PolicyViolationError`): the on-error hooks run and nothing is applied. `checks=False` skips it; the
ledger records the gate's verdict either way. When every stack is unchanged since the live deployment,
nothing will be applied and that deployment's verdict still holds: the gate does not run again.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from pathlib import Path

from stacks_cloud.models import DeploymentConfig, DeploymentRecord
from stacks_cloud.policy import GateReport, PolicyViolationError, load_suppressions, run_gate
from stacks_cloud.policy.gate import find_checkov
from stacks_cloud.policy.suppressions import SUPPRESSIONS_FILE, Suppression
from stacks_cloud.providers.base import CloudProvider
from stacks_cloud.state import Ledger

Say = Callable[[str, str], None]
_NOT_RUN = re.compile(r"^not run: every stack is unchanged since \S+ \(its gate: (?P<verdict>.*)\)$")


def gate_verdict(record: DeploymentRecord) -> str:
    """What the gate said of what `record` applied: its own verdict, or, when the gate was not run because
    nothing had changed, the verdict of the deployment that did run it (not a note nested in a note)."""
    verdict = record.checks or "none recorded"
    while (nested := _NOT_RUN.match(verdict)) is not None:
        verdict = nested["verdict"]
    return verdict


class PolicyStep:
    """The gate of one session: its suppressions and scanner, found before anything is recorded."""

    def __init__(
        self, provider: CloudProvider, ledger: Ledger, app_env: tuple[str, str], say: Say, logger: logging.Logger
    ) -> None:
        self.provider = provider
        self.logger = logger
        self.ledger = ledger
        self.app_env = app_env
        self.say = say
        self.suppressions: list[Suppression] = []
        self.checkov: str | None = None

    def prepare(self, project_dir: Path) -> None:
        """Read the suppressions and find checkov (a `ConfigError` if either is wrong)."""
        self.suppressions = load_suppressions(project_dir / SUPPRESSIONS_FILE)
        if self.provider.writes_terraform:
            self.checkov = find_checkov(project_dir)

    async def synthesized(self, deploy_config: DeploymentConfig) -> DeploymentConfig:
        """`deploy_config` with its synth (the one the gate checks and the deploy applies)."""
        if deploy_config.synthesized_dir is not None:
            return deploy_config
        outdir = await asyncio.to_thread(self.provider.synthesize, deploy_config)
        return deploy_config if outdir is None else deploy_config.model_copy(update={"synthesized_dir": outdir})

    async def check(self, deploy_config: DeploymentConfig) -> tuple[GateReport | None, DeploymentConfig]:
        """Synthesize `deploy_config` and run the gate on it; the config returned applies that synth."""
        deploy_config = await self.synthesized(deploy_config)
        if deploy_config.synthesized_dir is None:
            return None, deploy_config
        report = await asyncio.to_thread(
            run_gate,
            deploy_config.synthesized_dir,
            environment=deploy_config.environment,
            suppressions=self.suppressions,
            checkov=self.checkov,
        )
        return report, deploy_config

    async def run(self, deployment_id: str, deploy_config: DeploymentConfig, checks: bool) -> DeploymentConfig:
        """Record the gate's verdict for `deployment_id`; raise `PolicyViolationError` when it fails."""
        if not checks:
            line = "policy gate skipped on request (--skip-checks / checks=False): recorded in the ledger"
            self.logger.warning("%s", line)
            self._record(deployment_id, "skipped on request (--skip-checks / checks=False)", line)
            return deploy_config
        deploy_config = await self.synthesized(deploy_config)
        previous = self._unchanged_since(deploy_config)
        if previous is not None:
            summary = f"not run: every stack is unchanged since {previous.id} (its gate: {gate_verdict(previous)})"
            self._record(deployment_id, summary, "policy gate " + summary)
            return deploy_config
        report, checked = await self.check(deploy_config)
        if report is None:
            self.ledger.set_checks(
                deployment_id, f"not applicable: provider {self.provider.name!r} writes no Terraform"
            )
            return deploy_config
        self._record(deployment_id, report.summary(), "policy gate " + report.summary())
        if not report.ok:
            raise PolicyViolationError(report)
        return checked

    def _record(self, deployment_id: str, verdict: str, line: str) -> None:
        self.ledger.set_checks(deployment_id, verdict)
        self.say("policy", line)

    def _unchanged_since(self, deploy_config: DeploymentConfig) -> DeploymentRecord | None:
        """The live deployment, when the provider would skip every stack as identical to it."""
        outdir = deploy_config.synthesized_dir
        if outdir is None or not self.provider.skips_everything(deploy_config, outdir):
            return None
        return self.ledger.live(*self.app_env)
