"""`multiRegion.rollout`: how a release reaches the regions, wave by wave, and what must hold before the next wave.

    "rollout": {
        "waves": [["us-east-1"], ["eu-west-1", "ap-southeast-1"]],  # default: the primary, then the rest
        "bakeTime": 600,             # seconds each wave is watched before the next one starts
        "checkInterval": 30,         # how often the gates are read during a bake
        "alarms": ["my-app-5xx"],    # CloudWatch alarms, read in each region of the wave: any in ALARM halts
        "gates": [error_budget],     # async def error_budget(context, region) -> bool | GateResult
        "onFailure": "rollback",     # or "halt": leave the deployed waves for a human
        "environments": ["production", "staging"],  # the others deploy every region at once, as without it
    }

The global routing stack is applied after the last wave: it reads every region's outputs, and a region is
routed to only once it has passed its bake.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from stacks_cloud.config.base import Model
from stacks_cloud.config.fields import EnvironmentName
from stacks_cloud.config.hooks import HookList, call_problems
from stacks_cloud.core.errors import Problem
from stacks_cloud.core.types import Region


def _seconds(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    return value


Seconds = Annotated[timedelta, BeforeValidator(_seconds)]

_PATH = "multi_region.rollout"
TOGETHER = "together"
"""`waves: "together"`: every region in one wave (with the gates, if any, after it)."""


class OnFailure(StrEnum):
    ROLLBACK = "rollback"
    """Roll the deployed waves back to the live deployment, exactly (as `cloud rollback` does)."""
    HALT = "halt"
    """Stop, and leave the deployed waves as they are for a human to look at."""


class RolloutConfig(Model):
    """Waves of regions, a bake time after each, and the gates that must hold during it."""

    waves: list[list[Region]] | Literal["together"] | None = None
    """The regions of each wave, in order; every region of the app exactly once. `"together"`: one wave.
    Default: the primary region alone, then the replica regions together."""
    bake_time: Seconds = timedelta(0)
    """How long each wave is watched before the next one starts (seconds or a timedelta). Default: 0, the gates
    are read once after the wave is applied."""
    check_interval: Seconds = timedelta(seconds=30)
    """How often the gates are read during a bake. Default: 30 s."""
    health: bool = True
    """Gate on each region's own health check (the API's health path, as `cloud status` reads it). A region
    without one passes it as not applicable. Default: on."""
    alarms: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(default_factory=list)
    """CloudWatch alarm names, read in each region of the wave; any in ALARM (or missing) halts. Default: none."""
    gates: HookList = Field(default_factory=list)
    """Python gates: `async def gate(context, region)` (sync works too) returning True/None (holds), False,
    or a `GateResult(passed, reason)`; an exception or a timeout fails it. `hook(timeout=...)` sets a timeout
    (default 300 s). Default: none."""
    on_failure: OnFailure = OnFailure.ROLLBACK
    """What a failed gate does after halting: roll the deployed waves back (default) or leave them (`halt`)."""
    environments: list[EnvironmentName] | None = None
    """The environments that roll out in waves; the others deploy every region at once, without gates, as
    without a rollout. Default: every environment."""

    def applies_to(self, environment: str) -> bool:
        return self.environments is None or environment in self.environments

    @property
    def has_gates(self) -> bool:
        return self.health or bool(self.alarms) or bool(self.gates)

    def region_waves(self, regions: list[str]) -> list[list[str]]:
        """The waves for the app's `regions` (primary first)."""
        if self.waves == TOGETHER:
            return [list(regions)]
        if self.waves is None:
            return [regions[:1], regions[1:]] if len(regions) > 1 else [list(regions)]
        return [list(wave) for wave in self.waves]

    def problems(self, regions: list[str], environments: list[str]) -> list[Problem]:
        """Every region in exactly one wave, no empty wave, sane timings, known environments, callable gates."""
        problems = self._wave_problems(regions) + self._timing_problems()
        problems += [
            Problem(
                f"{_PATH}.environments.{index}",
                name,
                f"is not one of this app's environments ({', '.join(environments)}).",
                "use one of them, or declare it under `environments`.",
            )
            for index, name in enumerate(self.environments or [])
            if name not in environments
        ]
        problems += call_problems(
            f"{_PATH}.gates",
            self.gates,
            2,
            "gates are called as (context, region)",
            "define it as `async def gate(context, region):`.",
        )
        return problems

    def _wave_problems(self, regions: list[str]) -> list[Problem]:
        if not isinstance(self.waves, list):
            return []
        problems = []
        seen: dict[str, int] = {}
        for index, wave in enumerate(self.waves):
            if not wave:
                problems.append(Problem(f"{_PATH}.waves.{index}", wave, "is empty.", "remove the empty wave."))
            for position, region in enumerate(wave):
                where = f"{_PATH}.waves.{index}.{position}"
                if region not in regions:
                    fix = f"use one of {', '.join(regions)}, or add it to replicaRegions."
                    problems.append(Problem(where, region, "is not one of the app's regions.", fix))
                elif region in seen:
                    problems.append(
                        Problem(where, region, f"is already in waves.{seen[region]}.", "list each region once.")
                    )
                seen.setdefault(region, index)
        missing = [region for region in regions if region not in seen]
        if missing:
            problems.append(
                Problem(
                    f"{_PATH}.waves",
                    self.waves,
                    f"leaves out {', '.join(missing)}: every region of the app must be in one wave.",
                    f"add {', '.join(repr(region) for region in missing)} to a wave.",
                )
            )
        return problems

    def _timing_problems(self) -> list[Problem]:
        problems = []
        if self.check_interval < timedelta(seconds=1):
            problems.append(
                Problem(
                    f"{_PATH}.check_interval",
                    self.check_interval.total_seconds(),
                    "must be at least 1 second.",
                    "read the gates every few seconds or more (default: 30).",
                )
            )
        if self.bake_time < timedelta(0):
            problems.append(
                Problem(f"{_PATH}.bake_time", self.bake_time.total_seconds(), "is negative.", "use 0 or more seconds.")
            )
        return problems
