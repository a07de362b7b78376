"""Deployment hooks: the hook model (`Hook`, `hook`, `Phase`, `run_phase`) and ready-made hooks."""

from hooks.base import Hook, HookOutcome, Phase, as_hook, hook, run_phase

__all__ = ["Hook", "HookOutcome", "Phase", "as_hook", "hook", "run_phase"]
