"""Real remote state, end to end: two regional stacks and the global stack applied against moto.

Nothing in our code is mocked: `stacks_cloud.state.bootstrap_state` creates the state bucket through boto3, and plain
`terraform init` / `apply` / `plan` run the synthesized stacks (offline provider mirror, every AWS
endpoint and the S3 backend pointed at a `moto_server` on 127.0.0.1). The global stack reads the
regional outputs through cdktf's cross-stack references (`terraform_remote_state` on S3).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from config.cloud import AppConfig
from stacks.custom_stack import CustomStack
from stacks_cloud.cdk import App
from stacks_cloud.config import S3StateSettings
from stacks_cloud.stacks import build_app, global_stack_name, regional_stack_name
from stacks_cloud.state import BootstrapReport, bootstrap_state
from tests.servers import Moto, moto_server
from tests.terraform_run import terraform

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

PROJECT_DIR = Path(__file__).resolve().parent.parent
BUCKET = "e2e-terraform-state"
ZONE = "myapp.test"
REGIONS = ("us-east-1", "eu-west-1")


def e2e_config(moto_url: str) -> AppConfig:
    return AppConfig.model_validate(
        {
            "appName": "e2e",
            "environment": "development",
            "multiRegion": {
                "enabled": True,
                "primaryRegion": REGIONS[0],
                "replicaRegions": list(REGIONS[1:]),
                "routing": "latency",
                "domainName": f"api.{ZONE}",
            },
            "state": {
                "backend": "s3",
                "s3": {
                    "bucket": BUCKET,
                    "region": "us-east-1",
                    "locking": "lockfile",
                    "endpoints": {"s3": moto_url, "sts": moto_url, "iam": moto_url, "dynamodb": moto_url},
                    "usePathStyle": True,
                    "skipAwsChecks": True,
                },
            },
            "aws": {"endpoint": moto_url, "s3UsePathStyle": True, "skipAwsChecks": True},
        }
    )


@dataclass
class Deployment:
    moto: Moto
    config: AppConfig
    stacks_dir: Path
    env: dict[str, str]
    timings: dict[str, float]
    bootstrap_reports: list[BootstrapReport]

    def stack_dir(self, name: str) -> Path:
        return self.stacks_dir / name

    def state(self, stack: str) -> dict[str, Any]:
        key = f"{self.config.app_name}/{self.config.environment}/{stack}.tfstate"
        body = self.moto.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()
        state: dict[str, Any] = json.loads(body)
        return state


def resources(state: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [
        instance["attributes"]
        for resource in state["resources"]
        if resource["mode"] == "managed" and resource["type"] == kind
        for instance in resource["instances"]
    ]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]) -> Iterator[Deployment]:
    work = tmp_path_factory.mktemp("e2e")
    with moto_server(work) as moto:
        timings: dict[str, float] = {}
        started = time.monotonic()
        config = e2e_config(moto.url)
        moto.client("route53").create_hosted_zone(Name=ZONE, CallerReference="e2e")  # the "existing" zone

        assert config.state.s3 is not None
        reports = [bootstrap_state(config.state.s3, client_factory=moto.client_factory) for _ in range(2)]

        app = App(outdir=str(work / "cdktf.out"))
        build_app(config, CustomStack, app=app, project_dir=PROJECT_DIR)
        app.synth()
        env = moto.aws_env(tf_env)
        deployment = Deployment(moto, config, work / "cdktf.out" / "stacks", env, timings, reports)

        regional = [regional_stack_name(config, region) for region in REGIONS]
        everything = [*regional, global_stack_name(config)]
        for name in everything:  # one at a time: inits share the plugin cache
            terraform(["init", "-input=false", "-no-color"], cwd=deployment.stack_dir(name), env=env, timeout=300)

        def apply(name: str) -> None:
            terraform(
                ["apply", "-auto-approve", "-input=false", "-no-color"],
                cwd=deployment.stack_dir(name),
                env=env,
                timeout=600,
            )

        with ThreadPoolExecutor(max_workers=len(regional)) as pool:
            list(pool.map(apply, regional))  # the regions are independent: apply them together
        apply(everything[-1])  # the global stack reads their outputs, so it goes last
        timings["bootstrap+synth+init+apply"] = time.monotonic() - started
        yield deployment


def test_bootstrap_creates_the_state_bucket_once(deployment: Deployment) -> None:
    first, second = deployment.bootstrap_reports
    plain_http = "no TLS-only policy: the S3 endpoint is plain HTTP"
    assert first.created == [f"bucket {BUCKET} (versioning, encryption, public access block; {plain_http})"]
    assert first.existing == []
    assert second.created == []
    assert second.existing == [f"bucket {BUCKET}"]


def test_bootstrap_with_tls_enforced_denies_plain_http_and_creates_the_lock_table(deployment: Deployment) -> None:
    moto = deployment.moto
    settings = S3StateSettings(
        bucket="e2e-tls-state",
        region="eu-west-1",
        locking="dynamodb",
        dynamodb_table="e2e-locks",
        endpoints={"s3": moto.url, "dynamodb": moto.url},
    )
    report = bootstrap_state(settings, client_factory=moto.client_factory, enforce_tls=True)
    assert report.created == [
        "bucket e2e-tls-state (versioning, encryption, public access block, TLS-only policy)",
        "lock table e2e-locks (LockID hash key, on-demand, encrypted)",
    ]
    s3 = moto.client("s3", "eu-west-1")
    # moto evaluates bucket policies: this request is plain HTTP, so the policy refuses it.
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket="e2e-tls-state", Key="probe", Body=b"x")
    assert denied.value.response["Error"]["Code"] in {"AccessDenied", "403"}
    table = moto.client("dynamodb", "eu-west-1").describe_table(TableName="e2e-locks")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert bootstrap_state(settings, client_factory=moto.client_factory, enforce_tls=True).created == []


def test_each_stack_keeps_its_state_in_the_bucket_under_its_key(deployment: Deployment) -> None:
    listed = deployment.moto.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="e2e/development/")
    keys = sorted(item["Key"] for item in listed.get("Contents", []))
    assert keys == [
        "e2e/development/e2e-development-eu-west-1.tfstate",
        "e2e/development/e2e-development-global.tfstate",
        "e2e/development/e2e-development-us-east-1.tfstate",
    ]
    # The bootstrap made the bucket fit for state.
    s3 = deployment.moto.client("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    assert s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0][
        "ApplyServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}


def test_global_stack_routes_to_each_region_from_the_regional_outputs(deployment: Deployment) -> None:
    config = deployment.config
    global_state = deployment.state(global_stack_name(config))
    records = {record["set_identifier"]: record for record in resources(global_state, "aws_route53_record")}
    checks = {check["id"]: check for check in resources(global_state, "aws_route53_health_check")}
    assert sorted(records) == sorted(REGIONS)
    for region in REGIONS:
        regional_state = deployment.state(regional_stack_name(config, region))
        outputs = regional_state["outputs"]
        record = records[region]
        # The alias target is the regional custom domain, read from the regional state.
        assert record["alias"][0]["name"] == outputs["RegionalDomainTarget"]["value"]
        assert record["latency_routing_policy"] == [{"region": region}]
        assert record["name"] == f"api.{ZONE}"
        # Its health check requests /prod/api/health on the region's own API host.
        check = checks[record["health_check_id"]]
        assert check["type"] == "HTTPS"
        assert check["resource_path"] == "/prod/api/health"
        assert outputs["ApiUrl"]["value"] == f"https://{check['fqdn']}/prod"


def test_a_second_plan_of_every_stack_shows_no_changes(deployment: Deployment) -> None:
    names = [regional_stack_name(deployment.config, region) for region in REGIONS]
    names.append(global_stack_name(deployment.config))
    for name in names:
        # -detailed-exitcode: 0 = no changes, 2 = changes (which would fail here), 1 = error.
        output = terraform(
            ["plan", "-detailed-exitcode", "-input=false", "-no-color"],
            cwd=deployment.stack_dir(name),
            env=deployment.env,
        )
        assert "No changes." in output, output


def test_a_concurrent_apply_on_a_locked_stack_fails_with_a_lock_error(deployment: Deployment) -> None:
    name = regional_stack_name(deployment.config, REGIONS[1])
    stack_dir = deployment.stack_dir(name)
    synthesized = json.loads((stack_dir / "cdk.tf.json").read_text())
    queue = next(iter(synthesized["resource"]["aws_sqs_queue"]))
    # The first apply plans a change and waits for approval, holding the state lock meanwhile.
    holder = subprocess.Popen(
        ["terraform", "apply", "-no-color", f"-replace=aws_sqs_queue.{queue}"],
        cwd=stack_dir,
        env=deployment.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    waiting = threading.Event()
    seen = bytearray()

    def read() -> None:
        # The prompt has no newline after it: read whatever arrives, not lines.
        assert holder.stdout is not None
        while chunk := os.read(holder.stdout.fileno(), 4096):
            seen.extend(chunk)
            if b"Enter a value:" in seen:
                waiting.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert waiting.wait(timeout=300), "the first apply never asked for approval:\n" + seen.decode()
        second = subprocess.run(
            ["terraform", "apply", "-auto-approve", "-input=false", "-no-color", "-lock-timeout=0s"],
            cwd=stack_dir,
            env=deployment.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert second.returncode == 1
        assert "Error acquiring the state lock" in second.stderr, second.stderr
    finally:
        assert holder.stdin is not None
        holder.stdin.write(b"no\n")  # decline: nothing is changed
        holder.stdin.close()
        holder.wait(timeout=120)
        reader.join(timeout=10)
    assert "Apply cancelled." in seen.decode()
    # The lock is released: the stack plans again without changes.
    terraform(["plan", "-detailed-exitcode", "-input=false", "-no-color"], cwd=stack_dir, env=deployment.env)
