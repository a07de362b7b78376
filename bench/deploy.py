"""Deploy 1 region and 3 regions (each with the global routing stack) against moto, then deploy the
same again unchanged, then with a changed function (memory size); print wall times.

    source scripts/env.sh && python bench/deploy.py [--concurrency 4]

Each size gets a fresh `moto_server` on 127.0.0.1 and fresh state; both deploys run the policy
gate as `cloud deploy` does. Targets (issue 15): 3 regions under 1.5x the time of 1 (regional stacks
deploy in parallel), and the unchanged second deploy of 3 regions at least 5x faster than the first
(its stacks are identical to the live deployment's: skipped, and the gate's result still holds).
The changed deploy applies the regional stacks again, each reusing its kept `terraform init`
(the count of reused inits is printed).
Figures are printed, not asserted: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from config.cloud import AppConfig  # noqa: E402
from stacks_cloud import Cloud  # noqa: E402
from tests.servers import moto_server  # noqa: E402

REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-1"]


def config_for(regions: list[str], moto_url: str, state_dir: Path, memory: int = 512) -> AppConfig:
    return AppConfig.model_validate(
        {
            "appName": "bench",
            "api": {"memorySize": memory},
            "multiRegion": {
                "enabled": True,
                "primaryRegion": regions[0],
                "replicaRegions": regions[1:],
                "routing": "latency",
                "domainName": "api.bench.test",
            },
            "state": {"localDir": str(state_dir)},
            "aws": {"endpoint": moto_url, "s3UsePathStyle": True, "skipAwsChecks": True},
        }
    )


def deploy(count: int, concurrency: int) -> tuple[float, float]:
    """The first deploy's and the unchanged second deploy's wall time, in seconds (a changed third is printed)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-deploy-{count}-") as work, moto_server(Path(work)) as moto:
        moto.client("route53").create_hosted_zone(Name="bench.test", CallerReference="bench")
        os.environ.update(moto.aws_env({}))
        times = []
        for attempt in ("first", "unchanged", "changed"):
            memory = 1024 if attempt == "changed" else 512
            config = config_for(REGIONS[:count], moto.url, Path(work) / ".state", memory)
            lines: list[str] = []

            def keep(_stack: str, line: str, lines: list[str] = lines) -> None:
                lines.append(line)

            started = time.monotonic()
            result = asyncio.run(
                Cloud.deploy(
                    config,
                    version="bench",
                    concurrency=concurrency,
                    project_dir=PROJECT_DIR,
                    on_line=keep,
                )
            )
            elapsed = time.monotonic() - started
            reused = sum("reused the last init" in line for line in lines)
            per_stack = ", ".join(
                f"{stack.removeprefix('bench-development-')} {seconds:.0f} s"
                for stack, seconds in result.timings.items()
                if stack != "total"
            )
            print(f"{count} region(s), {attempt}: {elapsed:.1f} s wall ({per_stack}; {reused} init reused)", flush=True)
            times.append(elapsed)
        return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    one, _ = deploy(1, args.concurrency)
    three, three_again = deploy(3, args.concurrency)
    ratio = three / one
    print(f"ratio 3 regions / 1 region: {ratio:.2f}x (target < 1.5x: {'met' if ratio < 1.5 else 'NOT met'})")
    speedup = three / three_again
    verdict = "met" if speedup >= 5 else "NOT met"
    print(f"unchanged second deploy of 3 regions: {speedup:.1f}x faster (target >= 5x: {verdict})")


if __name__ == "__main__":
    main()
