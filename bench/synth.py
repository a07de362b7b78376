"""Synth benchmark: the reference app (`python main.py`) with and without lazy provider loading.

Each variant runs in a fresh process, several times. "naive" imports `cdktf_cdktf_provider_aws`
the ordinary way before anything else (as a plain cdktf app does), which loads every resource
module on both the Python and the Node side; then it builds and synthesizes the very same stacks
as "ours". Peak memory is the largest sum of RSS over the whole process tree (Python and the
jsii Node kernel), sampled from /proc every 10 ms.

    .venv/bin/python bench/synth.py --runs 5
    .venv/bin/python bench/synth.py --runs 3 --scaling 3,20   # N regions against M regions
    .venv/bin/python bench/synth.py --warm                     # one warm process, 15 runs: a test's synth, a re-synth

Targets (issue 15): ours >= 8x faster than naive (3 regions, cold), and with --scaling 3,20: 20 regions
in at most 2x the time of 3 regions, peak under 400 MB at 20 regions; with --warm, in one process after
the first: the reference stack's synth in a test (`synth_stack`) under 0.1 s, and the re-synth `cloud
synth --watch` does after a change (re-import the project, build, write) at most 0.3 s for 3 regions.
(Issue 2's: ours <= 2.5 s median.)
The app is the guide's project (`main.py` at the repository root) on the installed SDK.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent

NAIVE = """
import cdktf, cdktf_cdktf_provider_aws  # the ordinary import: all 2,214 modules, all 2,135 JS modules
import main
raise SystemExit(main.app.main())
"""
OURS = """
import main
raise SystemExit(main.app.main())
"""


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _tree_rss_kb(root: int) -> int:
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
        pending.extend(_children(pid))
    return total


def run_once(code: str, outdir: Path, extra_env: dict[str, str] | None = None) -> Run:
    env = {**os.environ, "CDKTF_OUTDIR": str(outdir), "CHECKPOINT_DISABLE": "1", **(extra_env or {})}
    env.pop("APP_ENV", None)
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code], cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(process.pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = process.communicate(timeout=600)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"benchmark run failed ({process.returncode}):\n{stderr.decode()[-2000:]}")
    stacks = list((outdir / "stacks").iterdir())
    if not stacks or not all((stack / "cdk.tf.json").is_file() for stack in stacks):
        raise SystemExit("benchmark run wrote no stacks")
    return Run(elapsed, peak / 1024)


def measure(name: str, code: str, runs: int, extra_env: dict[str, str] | None = None) -> list[Run]:
    results = []
    for index in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_once(code, Path(tmp) / "cdktf.out", extra_env)
        results.append(result)
        print(f"  {name:<5} run {index + 1}: {result.seconds:6.2f} s  peak {result.peak_rss_mb:7.0f} MB", flush=True)
    return results


SCALING_CONFIG = """
CLOUD = {{
    "appName": "scale",
    "multiRegion": {{
        "enabled": True,
        "primaryRegion": "us-east-1",
        "replicaRegions": {replicas!r},
        "routing": "latency",
        "domainName": "api.scale.test",
    }},
}}
"""
SCALING_REGIONS = [
    "us-east-1", "eu-west-1", "ap-southeast-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1",
    "eu-central-1", "eu-west-2", "eu-west-3", "eu-north-1", "eu-south-1", "ap-northeast-1", "ap-northeast-2",
    "ap-northeast-3", "ap-south-1", "ap-southeast-2", "sa-east-1", "me-south-1", "af-south-1",
]  # fmt: skip


def scaling(runs: int, sizes: list[int]) -> None:
    """Our synth of a latency-routed app with N regions (plus the global stack), side by side."""
    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            config = Path(tmp) / f"scale{size}.py"
            config.write_text(SCALING_CONFIG.format(replicas=SCALING_REGIONS[1:size]))
            measure(f"{size}r", OURS, 1, {"CLOUD_CONFIG": str(config)})  # warm-up, untimed
            results = measure(f"{size}r", OURS, runs, {"CLOUD_CONFIG": str(config)})
            medians[size] = (statistics.median(r.seconds for r in results), max(r.peak_rss_mb for r in results))
    print()
    print(f"{'regions':<8}{'median s':>10}{'peak MB':>10}")
    for size, (seconds, peak) in medians.items():
        print(f"{size:<8}{seconds:>10.2f}{peak:>10.0f}")
    low, high = min(sizes), max(sizes)
    ratio = medians[high][0] / medians[low][0]
    print(f"{high} regions / {low} regions: {ratio:.2f}x the time for {high / low:.1f}x the regions")
    print(f"  {'met ' if ratio <= 2 else 'MISSED'} {high} regions in at most 2x the time of {low}")
    print(f"  {'met ' if medians[high][1] < 400 else 'MISSED'} peak under 400 MB at {high} regions")


def _median_seconds(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def warm(runs: int) -> None:
    """In this process, after a first untimed synth: a test's synth of the reference stack, and a watch re-synth."""
    os.chdir(PROJECT_DIR)
    sys.path.insert(0, str(PROJECT_DIR))
    from stacks_cloud.deploy.project import Project, forget_project_modules, load_app
    from stacks_cloud.stacks.app import synth_atomically
    from stacks_cloud.testing import synth_stack

    app = load_app(PROJECT_DIR)
    config = app.load_config("development")
    synth_stack(app, config)  # the first one loads the modules: untimed
    test_synth = _median_seconds(lambda: synth_stack(app, config), runs)

    with tempfile.TemporaryDirectory() as tmp:
        outdir = Path(tmp) / "cdktf.out"

        def resynth() -> None:  # what deploy/watch.py does after a change
            forget_project_modules(PROJECT_DIR)
            project = Project(PROJECT_DIR, load_app(PROJECT_DIR))
            current = project.load_config(None, config_file=None)
            synth_atomically(outdir, lambda target: project.app.build(current, app=target, project_dir=PROJECT_DIR))

        resynth()
        regions = len(config.regions)
        watch_resynth = _median_seconds(resynth, runs)
    print(f"test synth of the reference stack (synth_stack), median of {runs}: {test_synth:.3f} s")
    print(f"watch re-synth, {regions} regions + global, median of {runs}: {watch_resynth:.3f} s")
    print(f"  {'met ' if test_synth < 0.1 else 'MISSED'} a test's synth under 0.1 s after the first")
    print(f"  {'met ' if watch_resynth <= 0.3 else 'MISSED'} a watch re-synth at most 0.3 s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--runs",
        type=int,
        help="runs per variant (default 5; with --warm 15: its runs take a tenth of a second, and noise"
        " on a shared machine moves a median of 5 by a third)",
    )
    parser.add_argument(
        "--scaling", metavar="N,M", help="instead: our synth with N and M regions side by side (e.g. 3,20)"
    )
    parser.add_argument("--warm", action="store_true", help="instead: a test's synth and a watch re-synth, warm")
    args = parser.parse_args()
    if args.runs is None:
        args.runs = 15 if args.warm else 5
    if args.warm:
        warm(args.runs)
        return 0
    if args.scaling:
        scaling(args.runs, [int(n) for n in args.scaling.split(",")])
        return 0

    # One untimed run each first: compiles .pyc files and fills the jsii package cache, so every timed
    # run is a cold process start with warm disk caches, which is what a user's repeated synth sees.
    print("warming up (untimed)...", flush=True)
    measure("naive", NAIVE, 1)
    measure("ours", OURS, 1)
    print("timed runs:", flush=True)
    naive = measure("naive", NAIVE, args.runs)
    ours = measure("ours", OURS, args.runs)

    naive_s = statistics.median(r.seconds for r in naive)
    ours_s = statistics.median(r.seconds for r in ours)
    naive_mb = max(r.peak_rss_mb for r in naive)
    ours_mb = max(r.peak_rss_mb for r in ours)
    print()
    print(f"{'variant':<8}{'median s':>10}{'peak MB':>10}")
    print(f"{'naive':<8}{naive_s:>10.2f}{naive_mb:>10.0f}")
    print(f"{'ours':<8}{ours_s:>10.2f}{ours_mb:>10.0f}")
    print(f"speed-up: {naive_s / ours_s:.1f}x   memory: {naive_mb / ours_mb:.1f}x less")
    targets = {
        "ours median <= 2.5 s": ours_s <= 2.5,
        "speed-up >= 8x": naive_s / ours_s >= 8,
        "ours peak < 800 MB": ours_mb < 800,
    }
    for label, met in targets.items():
        print(f"  {'met ' if met else 'MISSED'} {label}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
