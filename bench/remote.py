"""A 3-region deploy (and the global routing stack) with Terraform Cloud runs next to the same deploy run on
this machine, in one run of this script: the reference app on moto, state in Terraform Cloud (the project's
TFE test server, whose worker runs the real terraform as Terraform Cloud's workers do).

    source scripts/env.sh && python bench/remote.py [--show]

`--show` prints what the remote deploy printed (its CI lines and summary), as the README shows it.

Two apps with different names share one moto server and one TFE server: `benchlocal` with
`executionMode: "local"` (terraform here), `benchremote` with `"remote"` (a run per stack). Both go
through `cloud deploy` (the CLI, as a user runs it), policy gate skipped. Wall times are printed, not
asserted: this is a benchmark, not a test. On this machine the "remote" runs execute on the same two
cores, so the figure measures the engine's overhead for runs (upload, queueing, log polling), not the
speed of Terraform Cloud's workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from stacks_cloud.terraform import discover_provider_mirror  # noqa: E402
from tests.servers import moto_server  # noqa: E402
from tests.test_main import copy_project  # noqa: E402
from tests.tfe_server import TfeServer  # noqa: E402

CLI = Path(sys.executable).with_name("cloud")
CONFIG = """
CLOUD = {{
    "appName": "{app}",
    "multiRegion": {{
        "enabled": True,
        "primaryRegion": "us-east-1",
        "replicaRegions": ["eu-west-1", "ap-southeast-1"],
        "routing": "latency",
        "domainName": "api.{app}.test",
    }},
    "state": {{
        "backend": "cloud",
        "cloud": {{"organization": "bench", "hostname": "{host}", "executionMode": "{mode}"}},
    }},
    "aws": {{"endpoint": {moto!r}, "s3UsePathStyle": True, "skipAwsChecks": True}},
}}
"""


def main(show: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as folder, moto_server(Path(folder)) as moto:
        work = Path(folder)
        (work / "plugins").mkdir()
        mirror = discover_provider_mirror()
        for app in ("benchlocal", "benchremote"):
            moto.client("route53").create_hosted_zone(Name=f"{app}.test", CallerReference=app)
        with TfeServer(["bench"], work_dir=work, mirror=mirror, plugin_cache=work / "plugins") as server:
            env = moto.aws_env(
                {
                    **os.environ,
                    "TF_CLI_CONFIG_FILE": str(server.cli_config(work / "cli.tfrc", mirror=mirror)),
                    "SSL_CERT_FILE": str(server.ca_file),
                    "CI": "1",
                    "CLOUD_CONFIG": "bench_config.py",
                }
            )
            env["AWS_SECRET_ACCESS_KEY"] = "bench-remote-secret-key"  # moto takes any: one that reads as a secret
            env.pop("APP_ENV", None)
            figures = {}
            for app, mode in (("benchlocal", "local"), ("benchremote", "remote")):
                root = copy_project(work / app)
                (root / "bench_config.py").write_text(
                    CONFIG.format(app=app, host=server.hostname, mode=mode, moto=moto.url)
                )
                started = time.monotonic()
                result = subprocess.run(
                    [str(CLI), "deploy", "--skip-checks", "--version", "bench"],
                    cwd=root,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                figures[mode] = time.monotonic() - started
                if result.returncode != 0:
                    print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
                    raise SystemExit(f"the {mode} deploy failed")
                print(f"{mode:>6}: 3 regions + global, first deploy {figures[mode]:.1f} s", flush=True)
                if show and mode == "remote":
                    print(result.stderr, result.stdout, sep="\n")
            print(f"remote / local: {figures['remote'] / figures['local']:.2f}x")


if __name__ == "__main__":
    main(show="--show" in sys.argv[1:])
