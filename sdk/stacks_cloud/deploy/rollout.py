"""A rollout: a release applied wave by wave, each wave baked under its gates before the next one starts.

`plan_waves` turns the config's waves of regions into waves of stacks (the global routing stack after the
last wave: it reads every region's outputs, and a region is routed to only once it passed its bake).
`Rollout.run` applies each wave through the provider, then bakes it: for `bake_time` it reads every gate
of every region of the wave each `check_interval` (at least once): the region's health check, the
CloudWatch alarms named in the config, the project's Python gates. Each verdict is shown live and
recorded in the ledger (`DeploymentRecord.rollout`); the first failed gate raises `RolloutHaltedError`,
so that no later wave starts (the session then rolls back, runs the on-error hooks, records `halted`).

A rollout stopped on purpose (`--wave`, `--regions`), interrupted, or halted and left for a human is
continued by the next deploy of the same release: stacks that deployment applied with the same
synthesized Terraform are not applied again, and waves that passed their bake are not baked again.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from stacks_cloud.config import CloudConfig, RolloutConfig
from stacks_cloud.core.errors import ConfigError, Problem, RolloutHaltedError
from stacks_cloud.core.secrets import redact_text
from stacks_cloud.hooks.base import DEFAULT_TIMEOUT, Hook
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentContext,
    DeploymentRecord,
    DeploymentResult,
    GateResult,
    Health,
    HealthCheck,
    State,
)
from stacks_cloud.providers.base import CloudProvider
from stacks_cloud.state import Ledger
from stacks_cloud.terraform.events import EventSink, phase_event

CONTINUABLE = frozenset({State.PARTIAL.value, State.INTERRUPTED.value, State.HALTED.value})
"""A newest deployment in one of these states, with a rollout recorded, is continued by the next deploy."""


@dataclass
class Wave:
    number: int
    """1-based, as users count them."""
    by_region: dict[str, list[str]]
    """Each region of the wave and its stacks."""
    status: str = "pending"
    """pending, deploying, baking, passed, halted, interrupted, failed, not started."""
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)
    """`"<gate> in <region>"` -> verdict, reason, checks, at."""
    baked_seconds: float | None = None

    @property
    def regions(self) -> list[str]:
        return list(self.by_region)

    @property
    def stacks(self) -> list[str]:
        return [stack for stacks in self.by_region.values() for stack in stacks]

    def as_dict(self) -> dict[str, Any]:
        return {
            "wave": self.number,
            "regions": self.regions,
            "stacks": self.stacks,
            "status": self.status,
            "baked_seconds": self.baked_seconds,
            "gates": list(self.gates.values()),
        }


@dataclass(frozen=True)
class WavePlan:
    waves: list[Wave]
    after: list[str]
    """Stacks applied after the last wave (the global routing stack)."""


def plan_waves(
    rollout: RolloutConfig, config: CloudConfig, region_stacks: dict[str, list[str]], all_stacks: list[str]
) -> WavePlan:
    """The config's waves of regions as waves of stacks; every other stack after the last wave."""
    waves = [
        Wave(number, {region: list(region_stacks.get(region, [])) for region in regions})
        for number, regions in enumerate(rollout.region_waves(config.regions), start=1)
    ]
    in_waves = {stack for wave in waves for stack in wave.stacks}
    return WavePlan(waves, [stack for stack in all_stacks if stack not in in_waves])


def select_waves(plan: WavePlan, *, wave: int | None, regions: list[str] | None) -> tuple[WavePlan, bool]:
    """(the part of `plan` to deploy now, whether that is all of it). `wave`: up to and including wave N;
    `regions`: only those regions (in their waves' order). The stacks after the last wave go only when
    every wave goes. Raises `ConfigError` for a wave or region the rollout does not have."""
    problems = []
    if wave is not None and not 1 <= wave <= len(plan.waves):
        problems.append(
            Problem("--wave", wave, f"is not a wave of this rollout (1 to {len(plan.waves)}).", "pick one of them.")
        )
    known = [region for w in plan.waves for region in w.regions]
    problems += [
        Problem("--regions", region, "is not one of the app's regions.", f"use some of {', '.join(known)}.")
        for region in regions or []
        if region not in known
    ]
    ConfigError.raise_if_any("command line", problems)
    waves = plan.waves[:wave] if wave is not None else plan.waves
    if regions:
        waves = [
            Wave(w.number, {region: stacks for region, stacks in w.by_region.items() if region in regions})
            for w in waves
            if any(region in regions for region in w.regions)
        ]
    everything = len(waves) == len(plan.waves) and all(
        len(mine.regions) == len(theirs.regions) for mine, theirs in zip(waves, plan.waves, strict=False)
    )
    return WavePlan(waves, plan.after if everything else []), everything


def rollout_of(
    provider: CloudProvider, config: CloudConfig, *, wave: int | None, regions: list[str] | None
) -> RolloutConfig | None:
    """The rollout `config`'s environment deploys with (None: every region at once), after checking that the
    provider can deploy region by region and that `wave`/`regions` select part of it. Raises `ConfigError`
    (before anything is recorded)."""
    rollout = config.multi_region.rollout_for(config.environment)
    if rollout is None:
        if wave is not None or regions:
            option = "--wave" if wave is not None else "--regions"
            raise ConfigError(
                "command line",
                [
                    Problem(
                        option,
                        wave if wave is not None else regions,
                        f"deploys part of a rollout, but {config.environment!r} rolls out every region at once"
                        " (no multiRegion.rollout applies to it).",
                        "declare multiRegion.rollout (and list this environment in its `environments`), or deploy"
                        " without it (`--stacks` selects stacks).",
                    )
                ],
            )
        return None
    region_stacks = provider.region_stacks(config)
    if not region_stacks:
        raise ConfigError(
            "cloud configuration",
            [
                Problem(
                    "multi_region.rollout",
                    "declared",
                    f"applies to {config.environment!r}, but the {config.driver!r} provider deploys as one unit, not"
                    " region by region.",
                    "remove the rollout (or leave this environment out of its `environments`), or deploy with a"
                    " provider whose stacks are per region (aws, terraform, or a CdktfStacksProvider).",
                )
            ],
        )
    select_waves(plan_waves(rollout, config, region_stacks, provider.stack_names(config)), wave=wave, regions=regions)
    return rollout


class Rollout:
    """One deployment's rollout: apply a wave, bake it under its gates, record each verdict, go on or halt."""

    def __init__(
        self,
        provider: CloudProvider,
        rollout: RolloutConfig,
        config: DeploymentConfig,
        context: DeploymentContext,
        ledger: Ledger,
        *,
        say: Callable[[str, str], None],
        on_event: EventSink | None,
        wave: int | None = None,
        regions: list[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.rollout = rollout
        self.config = config
        self.context = context
        self.ledger = ledger
        self.say = say
        self.on_event = on_event
        self.clock = clock
        cloud = config.cloud
        full = plan_waves(rollout, cloud, provider.region_stacks(cloud), provider.stack_names(cloud))
        if config.stacks:  # `--stacks`: the rollout of those stacks only
            full = WavePlan(
                [
                    Wave(
                        w.number,
                        {
                            region: [s for s in stacks if s in config.stacks]
                            for region, stacks in w.by_region.items()
                            if any(s in config.stacks for s in stacks)
                        },
                    )
                    for w in full.waves
                    if any(s in config.stacks for s in w.stacks)
                ],
                [s for s in full.after if s in config.stacks],
            )
        self.plan, self.complete = select_waves(full, wave=wave, regions=regions)
        self.total = len(full.waves)
        self.continues: str | None = None
        self.halted: dict[str, Any] | None = None

    # --- the record -------------------------------------------------------------------------------------------

    def record(self) -> None:
        self.ledger.set_rollout(
            self.config.deployment_id,
            {
                "waves": [wave.as_dict() for wave in self.plan.waves],
                "total_waves": self.total,
                "after": self.plan.after,
                "complete": self.complete,
                "bake_seconds": self.rollout.bake_time.total_seconds(),
                "continues": self.continues,
                "halted": self.halted,
            },
        )

    # --- the run ------------------------------------------------------------------------------------------------

    async def run(self) -> DeploymentResult:
        """Apply and bake each wave, then the stacks after the last wave. Raises `RolloutHaltedError` when a
        gate fails; an interruption is recorded on the wave it hit and propagates."""
        outdir = self.config.synthesized_dir or await asyncio.to_thread(self.provider.synthesize, self.config)
        config = self.config.model_copy(update={"synthesized_dir": outdir})
        kept: dict[str, dict[str, Any]] = {}
        passed: set[int] = set()
        if outdir is not None:
            self.ledger.archive(config.deployment_id, outdir)  # what a later deploy compares to, to continue
            kept, passed = self._continued(config, outdir)
        result = DeploymentResult(success=True, deployment_id=config.deployment_id, synthesized_dir=outdir)
        self.record()
        wave: Wave | None = None
        try:
            for wave in self.plan.waves:
                await self._wave(wave, config, kept, passed, result)
            wave = None
            if self.plan.after:
                self.say("rollout", f"after the last wave: {', '.join(self.plan.after)}")
                self._merge(result, await self._apply(config, self.plan.after, kept))
        except asyncio.CancelledError:
            if wave is not None:
                wave.status = "interrupted"
            self.record()
            raise
        except RolloutHaltedError:
            self.record()
            raise
        except Exception:
            if wave is not None and wave.status == "deploying":
                wave.status = "failed"
            self.record()
            raise
        self.record()
        return result

    async def _wave(
        self,
        wave: Wave,
        config: DeploymentConfig,
        kept: dict[str, dict[str, Any]],
        passed: set[int],
        result: DeploymentResult,
    ) -> None:
        where = ", ".join(wave.regions)
        if wave.number in passed and all(stack in kept for stack in wave.stacks):
            wave.status = "passed"
            self.say("rollout", f"wave {wave.number} of {self.total} ({where}): passed in {self.continues}, skipped")
            self._merge(result, await self._apply(config, wave.stacks, kept))
            return
        self.say("rollout", f"wave {wave.number} of {self.total}: {where}")
        wave.status = "deploying"
        self.record()
        applied = await self._apply(config, wave.stacks, kept)
        self._merge(result, applied)
        self.context.outputs = dict(result.outputs)
        if all(not applied.timings.get(stack) and stack not in kept for stack in wave.stacks):
            wave.status = "passed"  # every stack as the live deployment has it: nothing new to watch
            self.say("rollout", f"wave {wave.number} of {self.total}: unchanged since the live deployment, not baked")
            return
        wave.status = "baking"
        self.record()
        await self._bake(wave, result.outputs)
        wave.status = "passed"
        self.record()

    async def _apply(
        self, config: DeploymentConfig, stacks: list[str], kept: dict[str, dict[str, Any]]
    ) -> DeploymentResult:
        mine = {stack: outputs for stack, outputs in kept.items() if stack in stacks}
        return await self.provider.deploy(config.model_copy(update={"stacks": stacks, "kept": mine}))

    @staticmethod
    def _merge(result: DeploymentResult, part: DeploymentResult) -> None:
        result.outputs.update(part.outputs)
        result.timings.update(part.timings)
        result.changes.update(part.changes)

    # --- continuing an unfinished rollout -------------------------------------------------------------------

    def _continued(self, config: DeploymentConfig, outdir: Path) -> tuple[dict[str, dict[str, Any]], set[int]]:
        """What the newest earlier deployment applied of this same release, when it is an unfinished rollout:
        (its stacks whose synthesized Terraform is identical, with their outputs; the waves that passed)."""
        if config.force:
            return {}, set()
        earlier = [
            r for r in self.ledger.history(config.app_name, config.environment, limit=3) if r.id != config.deployment_id
        ]
        if not earlier or earlier[0].status not in CONTINUABLE or not earlier[0].rollout or not earlier[0].has_archive:
            return {}, set()
        previous = earlier[0]
        old = config.work_dir / f"continue-{previous.id}"
        try:
            self.ledger.extract(previous.id, old)
        except (LookupError, OSError):
            return {}, set()
        kept = {
            stack: dict(run.get("outputs") or {})
            for stack, run in previous.stacks.items()
            if run.get("status") == "deployed" and _same_stack(outdir, old, stack)
        }
        if not kept:
            return {}, set()
        self.continues = previous.id
        passed = _passed_waves(previous, kept)
        self.say(
            "rollout",
            f"continuing {previous.id} ({previous.status}): {len(kept)} stack(s) it applied are not applied again"
            + (f"; wave(s) {', '.join(map(str, sorted(passed)))} passed their bake there" if passed else ""),
        )
        return kept, passed

    # --- baking -----------------------------------------------------------------------------------------------

    async def _bake(self, wave: Wave, outputs: dict[str, dict[str, Any]]) -> None:
        """Read the wave's gates until the bake time is over (at least once); halt on the first failure."""
        started = self.clock()
        deadline = started + self.rollout.bake_time.total_seconds()
        until = datetime.fromtimestamp(time.time() + self.rollout.bake_time.total_seconds()).strftime("%H:%M:%S")
        shown: dict[str, str] = {}
        while True:
            verdicts = await self._read_gates(wave, outputs)
            checked_at = time.time()
            for key, (region, gate, verdict) in verdicts.items():
                entry = wave.gates.setdefault(key, {"gate": gate, "region": region, "checks": 0})
                entry.update(verdict=_verdict(verdict), reason=verdict.reason, at=checked_at)
                entry["checks"] += 1
            self.record()
            for region in wave.regions:
                mine = [(gate, verdict) for r, gate, verdict in verdicts.values() if r == region]
                summary = ", ".join(f"{gate} {_verdict(verdict)}" for gate, verdict in mine) or "no gates"
                message = f"wave {wave.number} of {self.total}: baking until {until}: {summary}"
                if shown.get(region) != message:
                    shown[region] = message
                    self._event(wave, region, phase_event("baking", message))
            failed = next(((r, g, v) for r, g, v in verdicts.values() if not v.passed), None)
            if failed is not None:
                region, gate, verdict = failed
                reason = verdict.reason or "failed"
                wave.status = "halted"
                wave.baked_seconds = round(self.clock() - started, 1)
                self.halted = {"wave": wave.number, "region": region, "gate": gate, "reason": reason, "at": checked_at}
                self._event(wave, region, phase_event("halted", f"gate {gate} failed: {reason}"))
                raise RolloutHaltedError(
                    wave=wave.number,
                    waves=self.total,
                    region=region,
                    gate=gate,
                    reason=reason,
                    stack=next(iter(wave.by_region[region]), None),
                )
            remaining = deadline - self.clock()
            if remaining <= 0:
                break
            await asyncio.sleep(min(self.rollout.check_interval.total_seconds(), remaining))
        wave.baked_seconds = round(self.clock() - started, 1)
        for region in wave.regions:
            held = [entry for entry in wave.gates.values() if entry["region"] == region]
            reads = max((entry["checks"] for entry in held), default=0)
            message = f"wave {wave.number} of {self.total}: baked {wave.baked_seconds:g}s, " + (
                f"{len(held)} gate(s) held, read {reads} times" if held else "no gates"
            )
            self._event(wave, region, phase_event("baked", message))
        self.say("rollout", f"wave {wave.number} of {self.total} baked {wave.baked_seconds:g}s: every gate held")

    def _event(self, wave: Wave, region: str, event: Any) -> None:
        if self.on_event is None:
            return
        for stack in wave.by_region[region]:
            self.on_event(stack, event)

    async def _read_gates(
        self, wave: Wave, outputs: dict[str, dict[str, Any]]
    ) -> dict[str, tuple[str, str, GateResult]]:
        """Every gate of every region of the wave, read at once: `"<gate> in <region>"` -> (region, gate, verdict)."""
        cloud = self.config.cloud
        reads: list[tuple[str, str, asyncio.Future[Any] | Any]] = []
        for region, stacks in wave.by_region.items():
            if self.rollout.health:
                reads.append((region, "health", self._health({s: outputs.get(s, {}) for s in stacks})))
            if self.rollout.alarms:
                reads.append((region, "alarms", self.provider.check_alarms(cloud, region, list(self.rollout.alarms))))
            for gate in self.rollout.gates:
                reads.append((region, _gate_name(gate), _python_gate(gate, self.context, region)))
        results = await asyncio.gather(*(read for _, _, read in reads), return_exceptions=True)
        verdicts: dict[str, tuple[str, str, GateResult]] = {}
        for (region, name_of_gate, _), found in zip(reads, results, strict=True):
            if isinstance(found, asyncio.CancelledError):
                raise found
            if isinstance(found, BaseException):
                found = GateResult(passed=False, reason=f"could not be read: {type(found).__name__}: {found}")
            if isinstance(found, dict):  # alarms: one verdict per alarm
                for name, verdict in found.items():
                    verdicts[f"alarm {name} in {region}"] = (region, f"alarm {name}", _masked(verdict))
            else:
                verdicts[f"{name_of_gate} in {region}"] = (region, name_of_gate, _masked(found))
        return verdicts

    async def _health(self, outputs: dict[str, dict[str, Any]]) -> GateResult:
        checks = await self.provider.check_health(outputs)
        failing = [f"{stack}: {check.reason or check.health.value}" for stack, check in checks.items() if _bad(check)]
        if failing:
            return GateResult(passed=False, reason="; ".join(failing))
        if all(check.health is Health.UNKNOWN for check in checks.values()):
            return GateResult(passed=True, reason="not applicable: no health check (no API URL among the outputs)")
        return GateResult(passed=True)


def _bad(check: HealthCheck) -> bool:
    return check.health in (Health.UNHEALTHY, Health.DEGRADED)


def _verdict(result: GateResult) -> str:
    if result.passed and result.reason and result.reason.startswith("not applicable"):
        return "not applicable"
    return "passed" if result.passed else "failed"


def _masked(result: GateResult) -> GateResult:
    return result.model_copy(update={"reason": redact_text(result.reason)}) if result.reason else result


def _gate_name(gate: Any) -> str:
    return str(getattr(gate, "name", "") or getattr(gate, "__name__", type(gate).__name__))


async def _python_gate(gate: Any, context: DeploymentContext, region: str) -> GateResult:
    """Call a project's gate (sync or async) with its timeout; what it returns (or raises) as a verdict."""
    timeout = gate.timeout if isinstance(gate, Hook) else DEFAULT_TIMEOUT

    async def call() -> Any:
        if inspect.iscoroutinefunction(getattr(gate, "fn", gate)):
            return await gate(context, region)
        value = await asyncio.to_thread(gate, context, region)
        return await value if inspect.isawaitable(value) else value

    try:
        value = await asyncio.wait_for(call(), timeout)
    except TimeoutError:
        return GateResult(passed=False, reason=f"timed out after {timeout:g}s")
    except Exception as error:
        return GateResult(passed=False, reason=f"raised {type(error).__name__}: {error}")
    if value is None or value is True:
        return GateResult(passed=True)
    if value is False:
        return GateResult(passed=False, reason="returned False")
    if isinstance(value, GateResult):
        return value
    return GateResult(passed=False, reason=f"returned {value!r}: a gate returns True, False, None or a GateResult")


def _same_stack(new: Path, old: Path, stack: str) -> bool:
    new_file, old_file = new / "stacks" / stack / "cdk.tf.json", old / "stacks" / stack / "cdk.tf.json"
    return new_file.is_file() and old_file.is_file() and new_file.read_bytes() == old_file.read_bytes()


def _passed_waves(previous: DeploymentRecord, kept: dict[str, dict[str, Any]]) -> set[int]:
    """The waves of `previous` that passed their bake with every stack of theirs identical now."""
    waves = (previous.rollout or {}).get("waves") or []
    return {
        int(wave["wave"])
        for wave in waves
        if wave.get("status") == "passed" and all(stack in kept for stack in wave.get("stacks") or [])
    }
