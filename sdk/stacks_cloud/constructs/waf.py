"""`WebAcl`: a regional AWS WAF web ACL in front of an API: AWS's managed rules, a rate limit, logging.

Rules, in order: a per-IP rate limit (blocks above `rate_limit` requests per 5 minutes), AWS's
common rule set, its known-bad-inputs set (Log4Shell and friends), its IP reputation list and its
anonymous-IP list (Tor, anonymizing VPNs; hosting providers' addresses are only counted). Requests
go to a CloudWatch log group named `aws-waf-logs-<name>` (the prefix WAF requires).
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any

from pydantic import Field

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.aws import wafv2_web_acl, wafv2_web_acl_association, wafv2_web_acl_logging_configuration
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import remember
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.logs import DEFAULT_RETENTION_DAYS, LogGroup, RetentionDays

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
)
COUNT_ONLY = {"AWSManagedRulesAnonymousIpList": ["HostingProviderIPList"]}
"""Rules counted, not blocked: servers calling the API from a cloud provider's addresses are legitimate."""


class WebAclOptions(Options):
    name: Annotated[str, Field(min_length=1, max_length=115, pattern=r"^[A-Za-z0-9_-]+$")]
    """The web ACL's name (unique per region). Required."""
    rate_limit: Annotated[int, Field(ge=10, le=2_000_000_000)]
    """Requests per 5 minutes from one IP address before it is blocked. Default: 2000."""
    log_retention_days: RetentionDays = DEFAULT_RETENTION_DAYS
    """Retention of the web ACL's logs. Default: 365 days."""
    encryption_key: EncryptionKey | None
    """Encrypts the web ACL's log group. Default: AWS-managed keys."""


def _visibility(metric: str) -> dict[str, Any]:
    return {"cloudwatch_metrics_enabled": True, "metric_name": metric, "sampled_requests_enabled": True}


@options_signature(WebAclOptions)
class WebAcl(Construct):
    """Attributes: `acl`, `arn`. `protect(resource_arn)` associates it with an API stage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        rate_limit: int = 2000,
        encryption_key: EncryptionKey | None = None,
    ) -> None:
        props = validate_options(
            WebAclOptions,
            scope,
            construct_id,
            {"name": name, "rate_limit": rate_limit, "encryption_key": encryption_key},
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.acl = wafv2_web_acl.Wafv2WebAcl(
            self,
            "Acl",
            name=props.name,
            scope="REGIONAL",
            default_action=wafv2_web_acl.Wafv2WebAclDefaultAction(allow=wafv2_web_acl.Wafv2WebAclDefaultActionAllow()),
            visibility_config=wafv2_web_acl.Wafv2WebAclVisibilityConfig(**_visibility(props.name)),
        )
        rules: list[dict[str, Any]] = [
            {
                "name": "RateLimitPerIp",
                "priority": 0,
                "action": {"block": {}},
                "statement": {"rate_based_statement": {"limit": props.rate_limit, "aggregate_key_type": "IP"}},
                "visibility_config": _visibility(f"{props.name}-rate-limit"),
            }
        ]
        rules += [
            {
                "name": group,
                "priority": index,
                "override_action": {"none": {}},
                "statement": {
                    "managed_rule_group_statement": {
                        "name": group,
                        "vendor_name": "AWS",
                        "rule_action_override": [
                            {"name": rule, "action_to_use": {"count": {}}} for rule in COUNT_ONLY.get(group, [])
                        ],
                    }
                },
                "visibility_config": _visibility(f"{props.name}-{group}"),
            }
            for index, group in enumerate(MANAGED_RULE_GROUPS, start=1)
        ]
        self.acl.add_override("rule", rules)
        logs = LogGroup(
            self,
            "Logs",
            name=f"aws-waf-logs-{props.name}",
            retention_days=props.log_retention_days,
            key_arn=props.encryption_key.arn if props.encryption_key else None,
        )
        wafv2_web_acl_logging_configuration.Wafv2WebAclLoggingConfiguration(
            self, "Logging", resource_arn=self.acl.arn, log_destination_configs=[logs.arn]
        )

    @cached_property
    def arn(self) -> str:
        return str(self.acl.arn)

    def protect(self, scope: Construct, construct_id: str, resource_arn: str) -> None:
        """Filter the requests of `resource_arn` (an API Gateway stage) through this web ACL."""
        wafv2_web_acl_association.Wafv2WebAclAssociation(
            scope, construct_id, resource_arn=resource_arn, web_acl_arn=self.arn
        )
