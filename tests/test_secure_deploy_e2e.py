"""One deployment of the reference app with its data tier, against moto, through the `cloud` CLI, whose
hooks log, print, warn, raise and notify with secrets. Then: the data tier is there and wired (VPC
endpoints, flow logs, a closed default security group, RDS with TLS and IAM auth, the function in the
VPC with its endpoints in its environment), the function's role may read the database secret and no
other, and no secret value appears anywhere the run wrote.

What moto 5.2.5 cannot do, so what this deployment leaves out: ElastiCache replication groups. moto
answers `CreateReplicationGroup` but creates no member clusters, and the AWS provider's wait then reads
`<id>-001` and fails with CacheClusterNotFound; moto also lacks `DeleteCacheSubnetGroup`. The cache's
Terraform is checked by the policy gate, `terraform validate` and the construct tests instead.
"""

from __future__ import annotations

import fnmatch
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud.core.errors import ConfigError
from stacks_cloud.policy.gate import find_checkov
from tests.servers import Moto, RecordingServer, free_port
from tests.test_main import copy_project

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

CLI = Path(sys.executable).with_name("cloud")
APP = "secure"
SECRETS = {
    "E2E_API_KEY": "sk-live-7Q2vX9mZ4rT8",  # the custom provider's apiKey, through from_env
    "E2E_DSN": "pg-Secret-K3yw0rd-91",  # a nested provider setting named `dsn`, through from_env
    "E2E_REDIS_PASSWORD": "r3d1s-Pa55-Z8xq",  # the password in REDIS_URL, given to flush_redis
    "E2E_WEBHOOK_TOKEN": "XoXb-W3bh00k-Path-55",  # the secret path of the Slack webhook
    "STRIPE_SECRET_KEY": "sk_live_Str1pe-Env-4242",  # read by a hook with os.environ only, never registered
    "E2E_QUOTED": 'q"uo\\te\ttab-\u00e9-Secret-77',  # a quote, a backslash, a tab, a non-ASCII character
}
PRIVATE_KEY = "pk-Literal-In-Config-3141"  # a literal under `privateKey` in a provider section
LITERALS = {  # literals under keys the masker must take for secrets (README "Secrets are masked by value")
    "Authorization": "Bearer Hdr-Auth-7781-zz",
    "api-key": "Dash-Api-Key-6619",
    "licenseKey": "Lic-Key-5521-qq",
    "sessionKey": "Sess-Key-3307-ww",
    "bearer": "Bare-Bearer-9902",
    "passcode": "Pass-Code-4410",
    "jwt": "eyJ-Jwt-Literal-8812",
}

CONFIG = """
import logging
import os
import subprocess

from providers.custom_provider import CustomCloudProvider
from stacks_cloud import from_env, hook
from stacks_cloud.hooks import flush_redis, notify_slack

MOTO = {moto!r}


def pre_deploy(context):
    key = os.environ["E2E_API_KEY"]
    context.logger.info("pre-deploy with api key %s and dsn %s", key, os.environ["E2E_DSN"])
    logging.getLogger("thirdparty.sdk").warning("authenticating with %s", key)
    print("hook print:", key, os.environ["E2E_DSN"], os.environ["E2E_QUOTED"], flush=True)
    # a child process writes to the real file descriptors, past Python's sys.stdout
    subprocess.run(
        ["sh", "-c", 'echo "child out: $E2E_API_KEY $STRIPE_SECRET_KEY"; echo "child err: $E2E_API_KEY" >&2'],
        check=True,
    )


def leaky_check(context):
    # raised before notify_slack (an on-error hook) ever ran: its URL must already be masked
    raise RuntimeError("could not reach " + os.environ["SLACK_WEBHOOK_URL"])


def smoke_test(context):
    raise RuntimeError(
        "smoke test failed: the API refused key " + os.environ["E2E_API_KEY"]
        + " and Stripe " + os.environ["STRIPE_SECRET_KEY"] + " with " + os.environ["E2E_QUOTED"]
    )


def log_failure(error, context):
    context.logger.error("deployment failed (%s); key was %s", error, os.environ["E2E_API_KEY"])


CLOUD = {{
    "appName": "{app}",
    "multiRegion": {{"enabled": False}},
    "database": {{}},
    "state": {{"localDir": ".state"}},
    "aws": {{"endpoint": MOTO, "s3UsePathStyle": True, "skipAwsChecks": True}},
    "providers": {{"custom": CustomCloudProvider()}},
    "custom": {{
        "apiKey": from_env("E2E_API_KEY"),
        "endpoint": "http://127.0.0.1:9",
        "replicas": [{{"region": "eu-west-1", "auth": {{"dsn": from_env("E2E_DSN"), "privateKey": {private_key!r}}}}}],
        "headers": {literals!r},
        "quoted": {{"passcode": from_env("E2E_QUOTED")}},
    }},
    "hooks": {{
        "preDeploy": [
            pre_deploy,
            hook(may_fail=True)(leaky_check),
            hook(may_fail=True)(flush_redis(from_env("REDIS_URL"))),
        ],
        "postDeploy": smoke_test,
        "onError": [log_failure, notify_slack(from_env("SLACK_WEBHOOK_URL"), channel="#deploys")],
    }},
}}
"""


@dataclass
class Deployment:
    root: Path
    moto: Moto
    result: subprocess.CompletedProcess[str]
    slack: RecordingServer
    env: dict[str, str]
    status: subprocess.CompletedProcess[str]
    status_json: subprocess.CompletedProcess[str]

    def client(self, service: str) -> Any:
        return self.moto.client(service)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, moto: Moto, tf_env: dict[str, str]) -> Iterator[Deployment]:
    find_checkov()  # the gate runs in this deploy; ./scripts/setup installs checkov
    root = copy_project(tmp_path_factory.mktemp("secure"))
    (root / "secure.py").write_text(CONFIG.format(moto=moto.url, app=APP, private_key=PRIVATE_KEY, literals=LITERALS))
    # a state file left readable by others (copied in, restored from a backup): made private by the run
    (root / ".state").mkdir()
    (root / ".state" / "restored.tfstate").write_text("{}")
    (root / ".state" / "restored.tfstate").chmod(0o644)
    (root / ".state").chmod(0o755)
    with RecordingServer({f"/services/T0/B0/{SECRETS['E2E_WEBHOOK_TOKEN']}": [(200, 0.0)]}) as slack:
        env = moto.aws_env({**os.environ, **tf_env, **SECRETS, "CI": "1"})
        env["SLACK_WEBHOOK_URL"] = f"{slack.url}/services/T0/B0/{SECRETS['E2E_WEBHOOK_TOKEN']}"
        env["REDIS_URL"] = f"redis://:{SECRETS['E2E_REDIS_PASSWORD']}@127.0.0.1:{free_port()}/0"  # nobody listens
        result = subprocess.run(
            [str(CLI), "--config", "secure.py", "--verbose", "deploy", "--version", "sec-1"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        status = subprocess.run(
            [str(CLI), "--config", "secure.py", "status"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        status_json = subprocess.run(
            [str(CLI), "--config", "secure.py", "status", "--json"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        yield Deployment(root, moto, result, slack, env, status, status_json)


def test_the_deployment_ran_its_hooks_and_failed_in_post_deploy(deployment: Deployment) -> None:
    result = deployment.result
    assert result.returncode == 1, result.stdout + result.stderr
    assert "policy gate passed:" in result.stderr
    assert "post_deploy hook 'smoke_test' failed: smoke test failed: the API refused key **********" in result.stderr
    assert "hook print: ********** ********** **********" in result.stdout
    # finding 1: a hook's subprocess is masked at the file descriptors
    assert "child out: ********** **********" in result.stdout
    assert "child err: **********" in result.stderr
    # finding 3: a secret a hook holds is masked before that hook runs
    assert "could not reach **********" in result.stderr
    # finding 4: an environment variable read with os.environ
    assert "and Stripe ********** with **********" in result.stderr
    assert "could not flush Redis" in result.stderr  # the may_fail hook's warning
    assert len(deployment.slack.requests) == 1


def test_the_data_tier_is_applied_and_wired(deployment: Deployment) -> None:
    ec2 = deployment.client("ec2")
    (vpc,) = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{APP}-development"]}])["Vpcs"]
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["VpcEndpoints"]
    kinds = {e["ServiceName"].rsplit(".", 1)[-1]: e["VpcEndpointType"] for e in endpoints}
    assert kinds == {"s3": "Gateway", "dynamodb": "Gateway", "sqs": "Interface", "secretsmanager": "Interface"}
    assert all(e["PrivateDnsEnabled"] for e in endpoints if e["VpcEndpointType"] == "Interface")
    flow_logs = ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc["VpcId"]]}])["FlowLogs"]
    assert [f["TrafficType"] for f in flow_logs] == ["ALL"]
    (default_group,) = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    assert default_group["IpPermissions"] == [] and default_group["IpPermissionsEgress"] == []  # noqa: PT018

    rds = deployment.client("rds")
    (database,) = rds.describe_db_instances(DBInstanceIdentifier=f"{APP}-development-db")["DBInstances"]
    assert database["IAMDatabaseAuthenticationEnabled"] is True
    assert database["StorageEncrypted"] is True
    (group,) = database["DBParameterGroups"]
    parameters = rds.describe_db_parameters(DBParameterGroupName=group["DBParameterGroupName"])["Parameters"]
    assert {p["ParameterName"]: p.get("ParameterValue") for p in parameters}["require_secure_transport"] == "1"
    assert sorted(database["EnabledCloudwatchLogsExports"]) == ["error", "general", "slowquery"]

    function = deployment.client("lambda").get_function_configuration(FunctionName=f"{APP}-development-api")
    variables = function["Environment"]["Variables"]
    assert variables["DATABASE_HOST"] == database["Endpoint"]["Address"]
    assert variables["DATABASE_PORT"] == str(database["Endpoint"]["Port"])
    assert variables["DATABASE_SECRET_ARN"] == database["MasterUserSecret"]["SecretArn"]
    subnet_group = database["DBSubnetGroup"]
    assert set(function["VpcConfig"]["SubnetIds"]) == {s["SubnetIdentifier"] for s in subnet_group["Subnets"]}
    assert function["TracingConfig"]["Mode"] == "Active"


def _statements(document: Any) -> list[dict[str, Any]]:
    if isinstance(document, str):
        document = json.loads(document)
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_the_function_role_reads_the_database_secret_and_no_other(deployment: Deployment) -> None:
    iam, lam = deployment.client("iam"), deployment.client("lambda")
    role_name = lam.get_function_configuration(FunctionName=f"{APP}-development-api")["Role"].rsplit("/", 1)[-1]
    statements = [
        statement
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        for statement in _statements(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
    ]
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"])
        statements += _statements(version["PolicyVersion"]["Document"])
    secret_arn = deployment.client("rds").describe_db_instances(DBInstanceIdentifier=f"{APP}-development-db")[
        "DBInstances"
    ][0]["MasterUserSecret"]["SecretArn"]

    def allowed(action: str) -> list[str]:
        """The resources the role's Allow statements grant `action` on (patterns as written)."""
        return [
            resource
            for statement in statements
            if statement["Effect"] == "Allow"
            and any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in _as_list(statement["Action"]))
            for resource in _as_list(statement["Resource"])
        ]

    assert allowed("secretsmanager:GetSecretValue") == [secret_arn]
    assert allowed("secretsmanager:DescribeSecret") == [secret_arn]
    other_secrets = [
        s["ARN"] for s in deployment.client("secretsmanager").list_secrets()["SecretList"] if s["ARN"] != secret_arn
    ]
    for other in other_secrets:  # e.g. the secrets of other apps in the same account
        assert not any(fnmatch.fnmatchcase(other, pattern) for pattern in allowed("secretsmanager:GetSecretValue"))
    assert allowed("secretsmanager:PutSecretValue") == []
    assert allowed("secretsmanager:ListSecrets") == []


def _everything_written(deployment: Deployment) -> dict[str, str]:
    """Every text the run left behind, by where it is: output, logs, ledger (every column), synth, archives."""
    texts = {"stdout": deployment.result.stdout, "stderr": deployment.result.stderr}
    texts |= {"status": deployment.status.stdout + deployment.status.stderr}
    texts |= {"status --json": deployment.status_json.stdout + deployment.status_json.stderr}
    for request in deployment.slack.requests:
        texts[f"slack {request.path[:20]}"] = request.body.decode()
    for path in [*deployment.root.joinpath(".cache").rglob("*"), *deployment.root.joinpath(".state").rglob("*")]:
        if path.is_file() and "/.terraform/" not in str(path) and path.suffix not in {".zip"}:
            texts[str(path.relative_to(deployment.root))] = path.read_bytes().decode("utf-8", "replace")
    ledger = sqlite3.connect(deployment.root / ".state" / "ledger.sqlite")
    for table in ("deployments", "stack_runs", "locks"):
        for row in ledger.execute(f"SELECT * FROM {table}"):
            for index, value in enumerate(row):
                if isinstance(value, bytes):
                    with tarfile.open(fileobj=io.BytesIO(value)) as archive:
                        for member in archive.getmembers():
                            extracted = archive.extractfile(member)
                            if extracted is not None:
                                texts[f"ledger archive {member.name}"] = extracted.read().decode("utf-8", "replace")
                elif value is not None:
                    texts[f"ledger {table}[{index}]"] = str(value)
    return texts


def test_no_secret_value_appears_anywhere(deployment: Deployment) -> None:
    texts = _everything_written(deployment)
    assert any("cdk.tf.json" in where for where in texts)  # the synth was looked at
    assert any(where.startswith("ledger deployments") for where in texts)
    assert "Failed to deploy sec-1 to development" in next(t for w, t in texts.items() if w.startswith("slack"))
    planted = {**SECRETS, "PRIVATE_KEY": PRIVATE_KEY, **LITERALS}
    planted["Authorization"] = LITERALS["Authorization"].removeprefix("Bearer ")
    for name, value in planted.items():
        encodings = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
        leaks = [where for where, text in texts.items() if any(form in text for form in encodings)]
        assert leaks == [], f"{name} leaked into {leaks}"
    assert "**********" in deployment.result.stderr  # masked, not dropped: the messages still say what happened


def test_the_ledger_and_the_local_state_are_private(deployment: Deployment) -> None:
    files = [deployment.root / ".state" / "ledger.sqlite", *deployment.root.joinpath(".state").rglob("*.tfstate")]
    assert len(files) >= 3
    assert deployment.root / ".state" / "restored.tfstate" in files  # it was 0644 before the run
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((deployment.root / ".state").stat().st_mode) == 0o700


def test_status_says_what_the_failed_deployment_left_in_the_cloud(deployment: Deployment) -> None:
    """Finding 10: the stack applied, then a post-deploy hook failed: not "nothing live" without a word."""
    assert deployment.status.returncode == 0, deployment.status.stderr
    stack = f"{APP}-development-us-east-1"
    text = deployment.status.stdout
    assert "applied although it did not complete:" in text
    assert f"    {stack}: deployed (ApiUrl = https://" in text
    assert "why it stopped: post_deploy hook 'smoke_test' failed" in text
    assert "next: fix the cause, then `cloud deploy` completes it" in text
    unfinished = json.loads(deployment.status_json.stdout)["unfinished"]
    assert unfinished["status"] == "failed"
    assert unfinished["applied"][stack]["status"] == "deployed"


def test_config_errors_repr_and_dumps_never_show_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from config.cloud import load_config
    from providers.custom_provider import CustomCloudProvider

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    from stacks_cloud import from_env

    overrides = {
        "providers": {"custom": CustomCloudProvider()},
        "custom": {
            "apiKey": from_env("E2E_API_KEY"),
            "nested": [{"auth": {"dsn": from_env("E2E_DSN"), "privateKey": PRIVATE_KEY}}],
        },
    }
    config = load_config("development", overrides=overrides)
    shown = [repr(config), str(config.model_dump()), config.model_dump_json(exclude={"providers", "hooks"})]
    for value in (SECRETS["E2E_API_KEY"], SECRETS["E2E_DSN"], PRIVATE_KEY):
        assert not any(value in text for text in shown), value
    section = config.provider_settings["custom"]
    assert section.api_key is not None
    assert section.api_key.get_secret_value() == SECRETS["E2E_API_KEY"]  # still usable by the provider
    assert section.model_extra is not None
    assert section.model_extra["nested"][0]["auth"]["dsn"].get_secret_value() == SECRETS["E2E_DSN"]

    # A webhook URL given where a region goes: its variable's name marks it secret, so the error masks it.
    monkeypatch.setenv("SLACK_WEBHOOK_URL", f"https://hooks.example.com/services/T0/{SECRETS['E2E_WEBHOOK_TOKEN']}")
    bad: list[dict[str, Any]] = [
        {"aws": {"endpoint": f"http://admin:{SECRETS['E2E_REDIS_PASSWORD']}@127.0.0.1:5000"}},
        {"custom": {"region": from_env("SLACK_WEBHOOK_URL")}, "providers": {"custom": object()}},
        {"custom": {"region": from_env("E2E_API_KEY")}, "providers": {"custom": object()}},
    ]
    for override in bad:
        with pytest.raises(ConfigError) as error:
            load_config("development", overrides=override)
        text = str(error.value)
        assert "Fix:" in text
        assert "**********" in text
        assert not any(value in text for value in SECRETS.values()), text
