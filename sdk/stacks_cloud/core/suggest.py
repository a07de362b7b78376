""" "Did you mean ...?" for names a user typed: keys, enum values, stack names, environments."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(name: str, candidates: Iterable[str], *, count: int = 3, cutoff: float = 0.6) -> list[str]:
    """The candidates closest to `name` (case-insensitive), best first."""
    pool = {candidate.lower(): candidate for candidate in candidates}
    return [pool[match] for match in difflib.get_close_matches(name.lower(), list(pool), n=count, cutoff=cutoff)]


def did_you_mean(name: str, candidates: Iterable[str], *, cutoff: float = 0.6) -> str:
    """'did you mean 'x' or 'y'?' when something is close to `name`, else ''."""
    matches = close_matches(name, candidates, cutoff=cutoff)
    return f"did you mean {' or '.join(repr(match) for match in matches)}?" if matches else ""
