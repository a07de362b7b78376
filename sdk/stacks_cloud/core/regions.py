"""AWS region names, read from the partition data botocore ships (not a hand-written list)."""

from __future__ import annotations

import difflib
import importlib.util
import json
from functools import cache
from pathlib import Path
from typing import Any


def _partitions() -> Any:
    """botocore's `partitions` data, found where its loader finds it (`~/.aws/models`, then botocore's own
    `data` folder) and read as a file: importing `botocore.loaders` costs ~55 ms of every synth (it
    pulls in urllib3), for one JSON file. Anything unexpected goes through the loader itself."""
    spec = importlib.util.find_spec("botocore")
    if spec is not None and spec.submodule_search_locations:
        for folder in (Path.home() / ".aws" / "models", Path(next(iter(spec.submodule_search_locations))) / "data"):
            candidate = folder / "partitions.json"
            if candidate.is_file():
                try:
                    return json.loads(candidate.read_bytes())
                except (OSError, ValueError):
                    break
    from botocore.loaders import create_loader

    return create_loader().load_data("partitions")


@cache
def known_regions() -> frozenset[str]:
    """Every region of every AWS partition botocore knows (aws, aws-cn, aws-us-gov, ...)."""
    data = _partitions()
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
