"""The policy gate: checkov and the SDK's own rules over every synthesized stack, with reasoned suppressions.

`cloud check` runs it; `cloud deploy` runs it before anything is applied (`--skip-checks` to override,
recorded in the ledger). A finding fails the gate unless a suppression in the project's
`config/checks.toml` names its check, matches its resource, and gives a reason.
"""

from stacks_cloud.policy.gate import Finding, GateReport, PolicyViolationError, run_gate
from stacks_cloud.policy.rules import RULES, Rule
from stacks_cloud.policy.suppressions import Suppression, load_suppressions

__all__ = [
    "RULES",
    "Finding",
    "GateReport",
    "PolicyViolationError",
    "Rule",
    "Suppression",
    "load_suppressions",
    "run_gate",
]
