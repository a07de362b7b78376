"""AWS region names, read from the partition data botocore ships (not a hand-written list)."""

from __future__ import annotations

import difflib
from functools import cache


@cache
def known_regions() -> frozenset[str]:
    """Every region of every AWS partition botocore knows (aws, aws-cn, aws-us-gov, ...)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("partitions")
    return frozenset(
        region
        for partition in data["partitions"]
        for region in partition.get("regions", {})
        if not region.endswith("-global")
    )


def region_problem(name: str) -> str | None:
    """Why `name` is not a region, with the closest real names as the fix; None when it is one."""
    regions = known_regions()
    if name in regions:
        return None
    close = difflib.get_close_matches(name, sorted(regions), n=3, cutoff=0.6)
    hint = (
        f"did you mean {' or '.join(repr(c) for c in close)}?"
        if close
        else ("use a region name such as 'us-east-1' or 'eu-west-1'.")
    )
    return f"is not an AWS region (botocore knows {len(regions)} regions). Fix: {hint}"
