"""The SDK's own rules: what checkov misses that matters for these stacks, as pure functions over the JSON.

Each rule takes one synthesized stack (`cdk.tf.json` as a dict) and returns `(address, message)` for
every non-compliant resource; a stack without the resources a rule looks at is not applicable
(an empty list).

- `STACKS_REDIS_ENCRYPTION`: every Redis on ElastiCache encrypts in transit and requires AUTH (checkov's
  Redis checks look only at replication groups, and not at AUTH).
- `STACKS_RDS_TLS`: every MySQL, MariaDB or PostgreSQL instance uses a parameter group that refuses
  connections without TLS.
- `STACKS_API_AUTHORIZATION`: an API Gateway method open to anyone (`authorization = NONE`) is a
  decision: it needs a suppression that says why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

Synth = dict[str, Any]
RuleResult = list[tuple[str, str]]

TLS_PARAMETERS = {
    "mysql": ("require_secure_transport", {"1", "ON", "on"}),
    "mariadb": ("require_secure_transport", {"1", "ON", "on"}),
    "postgres": ("rds.force_ssl", {"1"}),
}
"""Per engine family: the parameter that refuses plain connections, and the values that turn it on."""


@dataclass(frozen=True)
class Rule:
    check_id: str
    name: str
    evaluate: Callable[[Synth], RuleResult]


def _resources(synthesized: Synth, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, body in synthesized.get("resource", {}).get(kind, {}).items():
        yield f"{kind}.{name}", body


def _reference(value: object) -> str | None:
    """`aws_db_parameter_group.X` from a token like `${aws_db_parameter_group.X.name}`."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        parts = value[2:-1].split(".")
        if len(parts) >= 2:
            return f"{parts[0]}.{parts[1]}"
    return None


def redis_encryption(synthesized: Synth) -> RuleResult:
    findings = []
    for address, body in _resources(synthesized, "aws_elasticache_cluster"):
        if body.get("engine", "redis") == "redis" and not body.get("replication_group_id"):
            findings.append(
                (
                    address,
                    "a single Redis cache cluster cannot require AUTH: use a replication group with"
                    " transit encryption and an auth token",
                )
            )
    for address, body in _resources(synthesized, "aws_elasticache_replication_group"):
        missing = []
        if body.get("transit_encryption_enabled") is not True:
            missing.append("transit_encryption_enabled")
        if not body.get("auth_token") and not body.get("user_group_ids"):
            missing.append("auth_token (or user_group_ids)")
        if body.get("at_rest_encryption_enabled") not in (True, "true"):
            missing.append("at_rest_encryption_enabled")
        if missing:
            findings.append((address, f"Redis without {', '.join(missing)}"))
    return findings


def rds_tls(synthesized: Synth) -> RuleResult:
    groups = dict(_resources(synthesized, "aws_db_parameter_group"))
    findings = []
    for address, body in _resources(synthesized, "aws_db_instance"):
        engine = str(body.get("engine", ""))
        family = "postgres" if engine.startswith("postgres") else engine.split("-", 1)[0]
        if family not in TLS_PARAMETERS:
            continue
        name, values = TLS_PARAMETERS[family]
        group = groups.get(_reference(body.get("parameter_group_name")) or "")
        parameters = {p.get("name"): str(p.get("value")) for p in (group or {}).get("parameter", [])}
        if parameters.get(name) not in values:
            findings.append((address, f"accepts connections without TLS: its parameter group must set {name}"))
    return findings


def api_authorization(synthesized: Synth) -> RuleResult:
    return [
        (address, f"{body.get('http_method', 'a')} method open to anyone (authorization NONE)")
        for address, body in _resources(synthesized, "aws_api_gateway_method")
        if body.get("authorization", "NONE") == "NONE"
    ]


SECRET_ATTRIBUTES: dict[str, dict[str, str]] = {
    "resource": {
        "aws_elasticache_replication_group": "auth_token",
        "aws_elasticache_user": "passwords",
        "aws_db_instance": "password",
        "aws_rds_cluster": "master_password",
        "aws_docdb_cluster": "master_password",
        "aws_redshift_cluster": "master_password",
        "aws_secretsmanager_secret_version": "secret_string",
        "aws_ssm_parameter": "value",
        "aws_iam_access_key": "*",
        "aws_iam_user_login_profile": "*",
        "random_password": "*",
        "tls_private_key": "*",
    },
    "data": {
        "aws_secretsmanager_random_password": "*",
        "aws_secretsmanager_secret_version": "*",
        "aws_kms_secrets": "*",
    },
}
"""What Terraform keeps in the state in clear (`sensitive` hides a value from plans and output, never from
the state): the attribute set, or `*` for a block whose results are secrets. The way out for each: a
value the service generates and keeps (RDS's `manage_master_user_password`), IAM authentication
(ElastiCache users of type `iam`), a write-only argument (`secret_string_wo`), or no Terraform at all."""

_FIX = {
    "aws_db_instance": "set manage_master_user_password (RDS generates and keeps it in Secrets Manager)",
    "aws_rds_cluster": "set manage_master_user_password",
    "aws_elasticache_replication_group": "authenticate with IAM (an aws_elasticache_user of type iam)",
    "aws_elasticache_user": "use authentication_mode type iam",
    "aws_secretsmanager_secret_version": "write it with secret_string_wo (write-only: never stored)",
}


def secret_in_state(synthesized: Synth) -> RuleResult:
    """A stack whose state would hold a known secret in clear fails: state files are read by every
    run, every backend and everyone with access to them."""
    findings = []
    for section, kinds in SECRET_ATTRIBUTES.items():
        prefix = "data." if section == "data" else ""
        for kind, attribute in kinds.items():
            for name, body in synthesized.get(section, {}).get(kind, {}).items():
                if attribute != "*" and body.get(attribute) in (None, "", []):
                    continue
                if kind == "aws_ssm_parameter" and body.get("type") != "SecureString":
                    continue
                what = f"its {attribute}" if attribute != "*" else "its results"
                fix = _FIX.get(kind, "generate and keep the value outside Terraform")
                findings.append((f"{prefix}{kind}.{name}", f"{what} would be kept in the state in clear: {fix}"))
    return findings


RULES: tuple[Rule, ...] = (
    Rule("STACKS_REDIS_ENCRYPTION", "Redis encrypts in transit and at rest and requires AUTH", redis_encryption),
    Rule("STACKS_RDS_TLS", "RDS instances refuse connections without TLS", rds_tls),
    Rule("STACKS_API_AUTHORIZATION", "API methods open to anyone carry a reasoned suppression", api_authorization),
    Rule("STACKS_SECRET_IN_STATE", "No secret is kept in the Terraform state in clear", secret_in_state),
)
